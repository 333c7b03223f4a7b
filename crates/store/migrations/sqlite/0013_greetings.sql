-- Greetings (seed 004): each salesperson is reminded once of a coming
-- holiday, and of a key person's birthday, per occasion and date. Keep in
-- step with ../postgres/0013_greetings.sql.

CREATE TABLE greeting_notices (
    user_id      BLOB NOT NULL REFERENCES users(id),
    occasion     TEXT NOT NULL,
    on_date      TEXT NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, occasion, on_date)
);
