-- Private iCalendar feeds: one per user, found by the SHA-256 of its secret
-- (the secret itself is shown once and never stored). Keep in step with
-- ../sqlite/0008_calendar_feeds.sql.

CREATE TABLE calendar_feeds (
    user_id      UUID PRIMARY KEY REFERENCES users(id),
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    secret_hash  BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL
);
