-- The script library (话术) and SPIN question bank of a workspace; the
-- starter set is written by store::scripts::seed. Keep in step with
-- ../postgres/0010_scripts.sql.

CREATE TABLE scripts (
    id           BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    kind         TEXT NOT NULL CHECK (kind IN ('opening', 'reason', 'objection', 'closing', 'spin_situation', 'spin_problem', 'spin_implication', 'spin_need_payoff')),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX scripts_workspace ON scripts (workspace_id, kind, id);
