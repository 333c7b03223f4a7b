-- Accounts (企业客户), their phones and tags. The name_* columns hold the
-- 查重 key of the name (guanxi_domain::dedupe::company_key) so that candidate
-- duplicates are found by index. Keep in step with ../sqlite/0002_accounts.sql.

CREATE TABLE accounts (
    id                     UUID PRIMARY KEY,
    workspace_id           UUID NOT NULL REFERENCES workspaces(id),
    name                   TEXT NOT NULL,
    short_name             TEXT,
    uscc                   TEXT,
    industry               TEXT,
    region_code            TEXT,
    address                TEXT,
    website                TEXT,
    source                 TEXT NOT NULL CHECK (source IN ('trade_show', 'referral', 'cold_call', 'website', 'industry_association', 'government_body', 'channel_partner', 'other')),
    referrer               TEXT,
    classification         TEXT CHECK (classification IN ('a', 'b', 'c')),
    key_account            BOOLEAN NOT NULL DEFAULT FALSE,
    product_fit            BOOLEAN NOT NULL DEFAULT FALSE,
    centralised_purchasing BOOLEAN NOT NULL DEFAULT FALSE,
    continuous_purchasing  BOOLEAN NOT NULL DEFAULT FALSE,
    relationship_stage     TEXT CHECK (relationship_stage IN ('building', 'stable', 'strengthening')),
    owner_id               UUID REFERENCES users(id),
    team_id                UUID REFERENCES teams(id),
    notes                  TEXT,
    name_key               TEXT NOT NULL,
    name_region            TEXT,
    name_branch            TEXT,
    name_pinyin            TEXT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    deleted_at             TIMESTAMPTZ
);
CREATE INDEX accounts_workspace ON accounts (workspace_id, id);
CREATE INDEX accounts_owner ON accounts (workspace_id, owner_id, id);
CREATE INDEX accounts_team ON accounts (workspace_id, team_id, id);
CREATE INDEX accounts_name_key ON accounts (workspace_id, name_key);
CREATE INDEX accounts_name_pinyin ON accounts (workspace_id, name_pinyin);
CREATE INDEX accounts_uscc ON accounts (workspace_id, uscc);

CREATE TABLE account_phones (
    account_id   UUID NOT NULL REFERENCES accounts(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    position     BIGINT NOT NULL,
    number       TEXT NOT NULL,
    extension    TEXT,
    display      TEXT NOT NULL,
    PRIMARY KEY (account_id, position)
);
CREATE INDEX account_phones_number ON account_phones (workspace_id, number);

CREATE TABLE account_tags (
    account_id   UUID NOT NULL REFERENCES accounts(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    tag          TEXT NOT NULL,
    PRIMARY KEY (account_id, tag)
);
CREATE INDEX account_tags_tag ON account_tags (workspace_id, tag);
