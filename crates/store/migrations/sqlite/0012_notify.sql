-- Reminders out of the app: each person's channels (a WeCom, DingTalk or
-- Feishu robot webhook, or e-mail) and the outbox that delivers to them,
-- durable and retried. Tasks carry the moment to remind (due time less the
-- assignee's lead), cleared once reminded. Keep in step with
-- ../postgres/0012_notify.sql.

ALTER TABLE users ADD COLUMN remind_lead_minutes BIGINT NOT NULL DEFAULT 15;
ALTER TABLE tasks ADD COLUMN remind_at TEXT;
CREATE INDEX tasks_remind ON tasks (remind_at) WHERE remind_at IS NOT NULL;
-- Hooks still ahead when this migration runs are reminded at their time.
UPDATE tasks SET remind_at = due_at
 WHERE status = 'open' AND due_at > strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now');

CREATE TABLE notify_channels (
    id           BLOB PRIMARY KEY,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    user_id      BLOB NOT NULL REFERENCES users(id),
    kind         TEXT NOT NULL CHECK (kind IN ('wecom', 'dingtalk', 'feishu', 'email')),
    label        TEXT NOT NULL,
    target       TEXT NOT NULL,
    secret       TEXT,
    events       TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX notify_channels_user ON notify_channels (user_id) WHERE deleted_at IS NULL;

-- One row per notification and channel: the pair is unique, so one reminder
-- is never queued twice for a channel. A worker sending a row holds it
-- ('sending') until next_attempt_at, its lease: past that, after a crash,
-- another worker takes it again.
CREATE TABLE outbox (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id),
    user_id         BLOB NOT NULL REFERENCES users(id),
    channel_id      BLOB NOT NULL REFERENCES notify_channels(id),
    notification_id BLOB NOT NULL REFERENCES notifications(id),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (channel_id, notification_id)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_user ON outbox (user_id, created_at);
