-- Requests a manager decides: registrations (报备) of a new customer and
-- transfers of an account someone else owns. A registered account is held
-- out of every pool (its pool_id is NULL) while the request is pending; the
-- request remembers the pool it goes to. Keep in step with
-- ../postgres/0006_ownership_requests.sql.

CREATE TABLE ownership_requests (
    id                BLOB PRIMARY KEY,
    workspace_id      BLOB NOT NULL REFERENCES workspaces(id),
    kind              TEXT NOT NULL CHECK (kind IN ('registration', 'transfer')),
    account_id        BLOB NOT NULL REFERENCES accounts(id),
    requester_id      BLOB NOT NULL REFERENCES users(id),
    requester_team_id BLOB REFERENCES teams(id),
    owner_id          BLOB REFERENCES users(id),
    owner_team_id     BLOB REFERENCES teams(id),
    pool_id           BLOB REFERENCES pools(id),
    note              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'withdrawn')),
    decided_by        BLOB REFERENCES users(id),
    decided_at        TEXT,
    decision_note     TEXT,
    expires_at        TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX ownership_requests_account ON ownership_requests (account_id, status);
CREATE INDEX ownership_requests_requester ON ownership_requests (workspace_id, requester_id, id);
CREATE INDEX ownership_requests_pending ON ownership_requests (workspace_id, status, id);
CREATE INDEX ownership_requests_expiry ON ownership_requests (expires_at) WHERE status = 'pending';
