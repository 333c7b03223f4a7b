-- What an account buys and when (seed 003), so that Guanxi reminds the
-- owner to call before the customer runs out: each purchase may hold the
-- open restock task it scheduled. Keep in step with ../postgres/0014_purchases.sql.

CREATE TABLE purchases (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES workspaces(id),
    account_id      BLOB NOT NULL REFERENCES accounts(id),
    item            TEXT NOT NULL,
    purchased_on    TEXT NOT NULL,
    quantity        TEXT,
    cycle_days      BIGINT,
    restock_task_id BLOB REFERENCES tasks(id),
    created_by      BLOB NOT NULL REFERENCES users(id),
    created_at      TEXT NOT NULL
);
CREATE INDEX purchases_account ON purchases (account_id, item, purchased_on);
