-- Opportunities (商机) along the procurement path (seed 000), the people at
-- the account who matter to each, and touches linked to one. Amounts are in
-- fen (分). Keep in step with ../sqlite/0021_opportunities.sql.

CREATE TABLE opportunities (
    id                  UUID PRIMARY KEY,
    workspace_id        UUID NOT NULL REFERENCES workspaces(id),
    account_id          UUID NOT NULL REFERENCES accounts(id),
    name                TEXT NOT NULL,
    stage               TEXT NOT NULL CHECK (stage IN ('initiation', 'funding_plan', 'feasibility', 'design',
                            'vendor_consultation', 'feasibility_review', 'tender', 'award', 'contract',
                            'implementation', 'payment')),
    status              TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    first_contact_stage TEXT NOT NULL CHECK (first_contact_stage IN ('initiation', 'funding_plan', 'feasibility',
                            'design', 'vendor_consultation', 'feasibility_review', 'tender', 'award', 'contract',
                            'implementation', 'payment')),
    amount_fen          BIGINT CHECK (amount_fen >= 0),
    expected_close_on   TEXT,
    owner_id            UUID REFERENCES users(id),
    source              TEXT,
    competitors         TEXT,
    lost_reason         TEXT,
    notes               TEXT,
    stage_changed_at    TIMESTAMPTZ NOT NULL,
    created_by          UUID NOT NULL REFERENCES users(id),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    deleted_at          TIMESTAMPTZ
);
CREATE INDEX opportunities_account ON opportunities (account_id, id);
CREATE INDEX opportunities_workspace ON opportunities (workspace_id, id);

CREATE TABLE opportunity_contacts (
    opportunity_id UUID NOT NULL REFERENCES opportunities(id),
    contact_id     UUID NOT NULL REFERENCES contacts(id),
    workspace_id   UUID NOT NULL REFERENCES workspaces(id),
    PRIMARY KEY (opportunity_id, contact_id)
);
CREATE INDEX opportunity_contacts_contact ON opportunity_contacts (contact_id, opportunity_id);

ALTER TABLE activities ADD COLUMN opportunity_id UUID REFERENCES opportunities(id);
CREATE INDEX activities_opportunity ON activities (opportunity_id, started_at) WHERE opportunity_id IS NOT NULL;
