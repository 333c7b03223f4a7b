-- Contacts (联系人 / 关键人) with their phones, e-mails and tags; the search
-- index; and the merge pointers that let a merged-away record's old id lead
-- to the one it was merged into. Keep in step with ../postgres/0003_contacts_search.sql.

ALTER TABLE accounts ADD COLUMN merged_into_id BLOB REFERENCES accounts(id);

CREATE TABLE contacts (
    id                    BLOB PRIMARY KEY,
    workspace_id          BLOB NOT NULL REFERENCES workspaces(id),
    account_id            BLOB NOT NULL REFERENCES accounts(id),
    name                  TEXT NOT NULL,
    department            TEXT,
    title                 TEXT,
    wechat                TEXT,
    stance                TEXT CHECK (stance IN ('supporter', 'neutral', 'opponent')),
    relationship_strength TEXT CHECK (relationship_strength IN ('unknown', 'acquainted', 'familiar', 'trusted', 'close')),
    key_person            INTEGER NOT NULL DEFAULT 0,
    has_money             INTEGER NOT NULL DEFAULT 0,
    has_authority         INTEGER NOT NULL DEFAULT 0,
    has_need              INTEGER NOT NULL DEFAULT 0,
    buying_role           TEXT CHECK (buying_role IN ('decision_maker', 'technical_evaluator', 'user', 'procurement', 'influencer', 'gatekeeper')),
    reports_to_id         BLOB REFERENCES contacts(id),
    birthday              TEXT,
    notes                 TEXT,
    left_company          INTEGER NOT NULL DEFAULT 0,
    name_key              TEXT NOT NULL,
    merged_into_id        BLOB REFERENCES contacts(id),
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    deleted_at            TEXT
);
CREATE INDEX contacts_account ON contacts (account_id, id);
CREATE INDEX contacts_workspace ON contacts (workspace_id, id);
CREATE INDEX contacts_wechat ON contacts (workspace_id, wechat);

CREATE TABLE contact_phones (
    contact_id   BLOB NOT NULL REFERENCES contacts(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    position     INTEGER NOT NULL,
    number       TEXT NOT NULL,
    extension    TEXT,
    display      TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_phones_number ON contact_phones (workspace_id, number);

CREATE TABLE contact_emails (
    contact_id   BLOB NOT NULL REFERENCES contacts(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    position     INTEGER NOT NULL,
    email        TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_emails_email ON contact_emails (workspace_id, email);

CREATE TABLE contact_tags (
    contact_id   BLOB NOT NULL REFERENCES contacts(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    tag          TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_tag ON contact_tags (workspace_id, tag);

-- One row per (record, term); see guanxi_domain::search for what terms are.
CREATE TABLE search_terms (
    workspace_id BLOB NOT NULL,
    term         TEXT NOT NULL,
    entity_id    BLOB NOT NULL,
    PRIMARY KEY (workspace_id, term, entity_id)
) WITHOUT ROWID;
CREATE INDEX search_terms_entity ON search_terms (entity_id);
