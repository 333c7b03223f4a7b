-- Uploaded files kept in the database (issue 6): an import's file and its
-- file of bad rows live in chunks beside the data, so any `guanxi serve`
-- instance can run, show or resume them and a backup of the database holds
-- them too. Uploads arrive a chunk at a time and resume at the offset the
-- server has. Saved column mappings, and the heartbeat that tells an import
-- still running from one whose server stopped. Keep in step with
-- ../postgres/0017_import_files.sql.

CREATE TABLE files (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id),
    user_id         BLOB REFERENCES users(id),
    purpose         TEXT NOT NULL,
    name            TEXT NOT NULL,
    size            BIGINT NOT NULL,
    received        BIGINT NOT NULL DEFAULT 0,
    chunks          BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    completed_at    TEXT
);
CREATE INDEX files_workspace ON files (workspace_id, created_at);

CREATE TABLE file_chunks (
    file_id         BLOB NOT NULL REFERENCES files(id),
    seq             BIGINT NOT NULL,
    data            BLOB NOT NULL,
    PRIMARY KEY (file_id, seq)
);

ALTER TABLE imports ADD COLUMN file_id BLOB REFERENCES files(id);
ALTER TABLE imports ADD COLUMN errors_file_id BLOB REFERENCES files(id);
ALTER TABLE imports ADD COLUMN heartbeat_at TEXT;
CREATE INDEX imports_status ON imports (status, heartbeat_at);

CREATE TABLE import_mappings (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    preset          TEXT,
    columns         TEXT NOT NULL,
    created_by      BLOB REFERENCES users(id),
    created_at      TEXT NOT NULL,
    deleted_at      TEXT
);
CREATE UNIQUE INDEX import_mappings_name ON import_mappings (workspace_id, name) WHERE deleted_at IS NULL;
