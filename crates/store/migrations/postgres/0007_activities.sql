-- Activities (跟进记录) and tasks: every touch with its outcome and what was
-- learned, the people involved, and the hook (钩子) it leaves: a task with a
-- precise time and purpose. Keep in step with ../sqlite/0007_activities.sql.

CREATE TABLE activities (
    id               UUID PRIMARY KEY,
    workspace_id     UUID NOT NULL REFERENCES workspaces(id),
    account_id       UUID NOT NULL REFERENCES accounts(id),
    author_id        UUID NOT NULL REFERENCES users(id),
    kind             TEXT NOT NULL CHECK (kind IN ('call', 'visit', 'wechat', 'email', 'meeting')),
    started_at       TIMESTAMPTZ NOT NULL,
    duration_minutes BIGINT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('connected', 'no_answer', 'refused', 'call_back', 'meeting_booked', 'info_obtained')),
    notes            TEXT,
    learned          JSONB NOT NULL,
    no_hook_reason   TEXT CHECK (no_hook_reason IN ('deal_lost', 'no_need', 'contact_left', 'already_planned')),
    created_at       TIMESTAMPTZ NOT NULL
);
-- An account's timeline, newest first.
CREATE INDEX activities_account ON activities (account_id, started_at, id);
CREATE INDEX activities_author ON activities (workspace_id, author_id, started_at);

CREATE TABLE activity_contacts (
    activity_id  UUID NOT NULL REFERENCES activities(id),
    contact_id   UUID NOT NULL REFERENCES contacts(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    PRIMARY KEY (activity_id, contact_id)
);
CREATE INDEX activity_contacts_contact ON activity_contacts (contact_id, activity_id);

CREATE TABLE tasks (
    id                 UUID PRIMARY KEY,
    workspace_id       UUID NOT NULL REFERENCES workspaces(id),
    account_id         UUID NOT NULL REFERENCES accounts(id),
    contact_id         UUID REFERENCES contacts(id),
    assignee_id        UUID NOT NULL REFERENCES users(id),
    kind               TEXT NOT NULL CHECK (kind IN ('hook', 'task')),
    due_at             TIMESTAMPTZ NOT NULL,
    purpose            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    source_activity_id UUID REFERENCES activities(id),
    done_activity_id   UUID REFERENCES activities(id),
    reschedules        BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    done_at            TIMESTAMPTZ
);
-- A person's worklist: their open tasks by due time.
CREATE INDEX tasks_open ON tasks (assignee_id, due_at) WHERE status = 'open';
CREATE INDEX tasks_account ON tasks (account_id, due_at);

-- Every move of a task's time, with the reason.
CREATE TABLE task_reschedules (
    task_id    UUID NOT NULL REFERENCES tasks(id),
    at         TIMESTAMPTZ NOT NULL,
    by_id      UUID REFERENCES users(id),
    from_due   TIMESTAMPTZ NOT NULL,
    to_due     TIMESTAMPTZ NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX task_reschedules_task ON task_reschedules (task_id, at);
