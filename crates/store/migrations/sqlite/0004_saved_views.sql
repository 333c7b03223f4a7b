-- Saved views (保存的视图): a user's named filters of a list; and the indexes
-- of the account list's sort orders. Keep in step
-- with ../postgres/0004_saved_views.sql.

CREATE TABLE saved_views (
    id           BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    user_id      BLOB NOT NULL REFERENCES users(id),
    section      TEXT NOT NULL,
    name         TEXT NOT NULL,
    query        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (user_id, section, name)
);

CREATE INDEX accounts_updated ON accounts (workspace_id, updated_at, id);
CREATE INDEX accounts_name ON accounts (workspace_id, name, id);
