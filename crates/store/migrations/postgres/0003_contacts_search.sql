-- Contacts (联系人 / 关键人) with their phones, e-mails and tags; the search
-- index; and the merge pointers that let a merged-away record's old id lead
-- to the one it was merged into. Keep in step with ../sqlite/0003_contacts_search.sql.

ALTER TABLE accounts ADD COLUMN merged_into_id UUID REFERENCES accounts(id);

CREATE TABLE contacts (
    id                    UUID PRIMARY KEY,
    workspace_id          UUID NOT NULL REFERENCES workspaces(id),
    account_id            UUID NOT NULL REFERENCES accounts(id),
    name                  TEXT NOT NULL,
    department            TEXT,
    title                 TEXT,
    wechat                TEXT,
    stance                TEXT CHECK (stance IN ('supporter', 'neutral', 'opponent')),
    relationship_strength TEXT CHECK (relationship_strength IN ('unknown', 'acquainted', 'familiar', 'trusted', 'close')),
    key_person            BOOLEAN NOT NULL DEFAULT FALSE,
    has_money             BOOLEAN NOT NULL DEFAULT FALSE,
    has_authority         BOOLEAN NOT NULL DEFAULT FALSE,
    has_need              BOOLEAN NOT NULL DEFAULT FALSE,
    buying_role           TEXT CHECK (buying_role IN ('decision_maker', 'technical_evaluator', 'user', 'procurement', 'influencer', 'gatekeeper')),
    reports_to_id         UUID REFERENCES contacts(id),
    birthday              TEXT,
    notes                 TEXT,
    left_company          BOOLEAN NOT NULL DEFAULT FALSE,
    name_key              TEXT NOT NULL,
    merged_into_id        UUID REFERENCES contacts(id),
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    deleted_at            TIMESTAMPTZ
);
CREATE INDEX contacts_account ON contacts (account_id, id);
CREATE INDEX contacts_workspace ON contacts (workspace_id, id);
CREATE INDEX contacts_wechat ON contacts (workspace_id, wechat);

CREATE TABLE contact_phones (
    contact_id   UUID NOT NULL REFERENCES contacts(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    position     BIGINT NOT NULL,
    number       TEXT NOT NULL,
    extension    TEXT,
    display      TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_phones_number ON contact_phones (workspace_id, number);

CREATE TABLE contact_emails (
    contact_id   UUID NOT NULL REFERENCES contacts(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    position     BIGINT NOT NULL,
    email        TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_emails_email ON contact_emails (workspace_id, email);

CREATE TABLE contact_tags (
    contact_id   UUID NOT NULL REFERENCES contacts(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    tag          TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_tag ON contact_tags (workspace_id, tag);

-- One row per (record, term); see guanxi_domain::search for what terms are.
CREATE TABLE search_terms (
    workspace_id UUID NOT NULL,
    term         TEXT COLLATE "C" NOT NULL,
    entity_id    UUID NOT NULL,
    PRIMARY KEY (workspace_id, term, entity_id)
);
CREATE INDEX search_terms_entity ON search_terms (entity_id);
