-- Foundation: workspaces, roles and their data scopes, teams (a tree with a
-- closure table for scope filters), users, sessions, API tokens, login
-- throttling and the audit log. Keep in step with ../postgres/0001_foundation.sql:
-- a test compares the two schemas.

CREATE TABLE workspaces (
    id             BLOB PRIMARY KEY,
    name           TEXT NOT NULL,
    time_zone      TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    default_locale TEXT NOT NULL DEFAULT 'zh-CN',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE role_scopes (
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'sales', 'service')),
    data_scope   TEXT NOT NULL CHECK (data_scope IN ('own', 'team', 'workspace')),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, role)
);

CREATE TABLE users (
    id                  BLOB PRIMARY KEY,
    workspace_id        BLOB NOT NULL REFERENCES workspaces(id),
    email               TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'sales', 'service')),
    team_id             BLOB REFERENCES teams(id),
    locale              TEXT NOT NULL DEFAULT 'zh-CN',
    disabled_at         TEXT,
    password_changed_at TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_workspace ON users (workspace_id, id);
CREATE INDEX users_team ON users (team_id);

CREATE TABLE teams (
    id           BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    name         TEXT NOT NULL,
    parent_id    BLOB REFERENCES teams(id),
    manager_id   BLOB REFERENCES users(id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE UNIQUE INDEX teams_name ON teams (workspace_id, name) WHERE deleted_at IS NULL;
CREATE INDEX teams_workspace ON teams (workspace_id, id);

-- Every (ancestor, descendant) pair of the team tree, a team being its own
-- ancestor at depth 0: "team subtree" scope is one indexed lookup.
CREATE TABLE team_closure (
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id),
    ancestor_id   BLOB NOT NULL REFERENCES teams(id),
    descendant_id BLOB NOT NULL REFERENCES teams(id),
    depth         INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX team_closure_descendant ON team_closure (descendant_id);

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    user_id      BLOB NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- Failed logins per key ("email:..." or "ip:..."), shared by every instance.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start TEXT NOT NULL,
    locked_until TEXT
);

CREATE TABLE audit_log (
    id           BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    actor_id     BLOB REFERENCES users(id),
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    BLOB NOT NULL,
    changes      TEXT NOT NULL,
    request_id   TEXT,
    at           TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);
CREATE INDEX audit_log_entity ON audit_log (workspace_id, entity_type, entity_id, id);
CREATE INDEX audit_log_actor ON audit_log (workspace_id, actor_id, id);
