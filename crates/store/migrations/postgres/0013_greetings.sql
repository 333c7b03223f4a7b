-- Greetings (seed 004): each salesperson is reminded once of a coming
-- holiday, and of a key person's birthday, per occasion and date. Keep in
-- step with ../sqlite/0013_greetings.sql.

CREATE TABLE greeting_notices (
    user_id      UUID NOT NULL REFERENCES users(id),
    occasion     TEXT NOT NULL,
    on_date      TEXT NOT NULL,
    workspace_id UUID NOT NULL REFERENCES workspaces(id),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, occasion, on_date)
);
