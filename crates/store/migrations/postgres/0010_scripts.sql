-- The script library (话术) and SPIN question bank of a workspace; the
-- starter set is written by store::scripts::seed. Keep in step with
-- ../sqlite/0010_scripts.sql.

CREATE TABLE scripts (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    kind         TEXT NOT NULL CHECK (kind IN ('opening', 'reason', 'objection', 'closing', 'spin_situation', 'spin_problem', 'spin_implication', 'spin_need_payoff')),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    deleted_at   TIMESTAMPTZ
);
CREATE INDEX scripts_workspace ON scripts (workspace_id, kind, id);
