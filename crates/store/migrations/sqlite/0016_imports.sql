-- Imports (issue 6): each run is a record (who, when, which file, what it
-- did), and every source row it read keeps its external id and the record
-- it became, so that re-running a file changes nothing and undo knows what
-- the import created. Keep in step with ../postgres/0016_imports.sql.

CREATE TABLE imports (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id),
    user_id         BLOB REFERENCES users(id),
    actor           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    file_path       TEXT,
    file_size       BIGINT NOT NULL,
    format          TEXT,
    options         TEXT NOT NULL,
    status          TEXT NOT NULL,
    bytes_read      BIGINT NOT NULL DEFAULT 0,
    rows_read       BIGINT NOT NULL DEFAULT 0,
    created         BIGINT NOT NULL DEFAULT 0,
    updated         BIGINT NOT NULL DEFAULT 0,
    merged          BIGINT NOT NULL DEFAULT 0,
    unchanged       BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    warnings        BIGINT NOT NULL DEFAULT 0,
    report          TEXT,
    errors_path     TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    undone_at       TEXT,
    undone_by       BLOB REFERENCES users(id)
);
CREATE INDEX imports_workspace ON imports (workspace_id, created_at);

CREATE TABLE import_keys (
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id),
    kind            TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    entity_id       BLOB NOT NULL,
    import_id       BLOB NOT NULL REFERENCES imports(id),
    created         BOOLEAN NOT NULL,
    PRIMARY KEY (workspace_id, kind, external_id)
);
CREATE INDEX import_keys_import ON import_keys (import_id, created);
