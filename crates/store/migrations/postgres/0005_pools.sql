-- The public pool (公海) and ownership: pools with their rules and members,
-- the bookkeeping on each account that says when it returns and why it came
-- back, and in-app notifications (the job's warnings). The default pool of
-- each workspace and the clocks of accounts owned before this migration are
-- filled in by store::pool::backfill. Keep in step with ../sqlite/0005_pools.sql.

CREATE TABLE pools (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    name         TEXT NOT NULL,
    is_default   BOOLEAN NOT NULL DEFAULT FALSE,
    rules        JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Who may see and claim from a pool: teams (with their sub-teams) and users.
-- A pool without members is open to the whole workspace.
CREATE TABLE pool_members (
    pool_id      UUID NOT NULL REFERENCES pools(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    team_id      UUID REFERENCES teams(id),
    user_id      UUID REFERENCES users(id),
    CHECK ((team_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX pool_members_team ON pool_members (pool_id, team_id) WHERE team_id IS NOT NULL;
CREATE UNIQUE INDEX pool_members_user ON pool_members (pool_id, user_id) WHERE user_id IS NOT NULL;

ALTER TABLE accounts ADD COLUMN pool_id UUID REFERENCES pools(id);
ALTER TABLE accounts ADD COLUMN owned_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN activity_clock_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN progress_clock_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN deal_clock_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN protected_until TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN release_due_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN release_rule TEXT CHECK (release_rule IN ('no_activity', 'no_progress', 'no_deal'));
ALTER TABLE accounts ADD COLUMN release_warned_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN released_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN release_reason TEXT CHECK (release_reason IN ('manual', 'no_activity', 'no_progress', 'no_deal', 'handover'));
ALTER TABLE accounts ADD COLUMN release_note TEXT;
ALTER TABLE accounts ADD COLUMN previous_owner_id UUID REFERENCES users(id);

-- The release job reads what is due, oldest first, across workspaces.
CREATE INDEX accounts_release_due ON accounts (release_due_at) WHERE release_due_at IS NOT NULL;
-- The pool list: a pool's unowned live accounts in id order.
CREATE INDEX accounts_pooled ON accounts (workspace_id, pool_id, id) WHERE owner_id IS NULL AND deleted_at IS NULL;
-- Claims per person per day.
CREATE INDEX audit_log_actor_action ON audit_log (workspace_id, actor_id, action, at);

CREATE TABLE notifications (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    user_id      UUID NOT NULL REFERENCES users(id),
    kind         TEXT NOT NULL,
    account_id   UUID REFERENCES accounts(id),
    data         JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    read_at      TIMESTAMPTZ
);
CREATE INDEX notifications_user ON notifications (user_id, id);
