-- A bulk write (an import, `guanxi gen`) now sorts its records' search terms
-- in its own process, in temporary files, and merges them into search_terms
-- when it ends (guanxi_store::search::Indexer): writing them to
-- search_pending first, then reading, sorting and deleting them, was a
-- third of a million-row import. What an older version left waiting is
-- merged here. An import that writes is `unindexed` until its terms are
-- merged; if its process stops first, the sweep indexes the records it
-- created (found through import_keys). Keep in step with
-- ../postgres/0020_search_spool.sql.

INSERT OR IGNORE INTO search_terms (workspace_id, term, entity_id)
    SELECT workspace_id, term, entity_id FROM search_pending;
DROP TABLE search_pending;

ALTER TABLE imports ADD COLUMN unindexed BOOLEAN NOT NULL DEFAULT 0;
