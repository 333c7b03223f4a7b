-- Bulk writes and the search index (issue 6). A bulk write (an import,
-- `guanxi gen`) puts the search terms of the records it creates here, in the
-- order it writes them, and merges them into search_terms in term order when
-- it ends: random insertions into a large index were most of an import's
-- time. A record's terms are removed by recomputing them from the record
-- (guanxi_store::search::forget), so search_terms no longer needs its
-- entity_id index, which was as large as the table. Keep in step with
-- ../sqlite/0018_search_pending.sql.

DROP INDEX search_terms_entity;

CREATE TABLE search_pending (
    batch_id     UUID NOT NULL,
    seq          BIGINT NOT NULL,
    workspace_id UUID NOT NULL,
    term         TEXT COLLATE "C" NOT NULL,
    entity_id    UUID NOT NULL,
    PRIMARY KEY (batch_id, seq)
);
CREATE INDEX search_pending_entity ON search_pending (entity_id);
