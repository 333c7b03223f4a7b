-- search_terms names a row's workspace by a small number instead of its
-- 16-byte id: the id was 40 % of every row of the largest table (23 million
-- rows at a million accounts), which a bulk write's merge rewrites and every
-- search reads. Each workspace gets its number here and when it is created
-- (guanxi_store::workspaces::create). Keep in step with
-- ../postgres/0022_search_workspace_number.sql.

ALTER TABLE workspaces ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET number = (SELECT COUNT(*) FROM workspaces w WHERE w.id <= workspaces.id);
CREATE UNIQUE INDEX workspaces_number ON workspaces (number);

CREATE TABLE search_terms_by_number (
    workspace_number INTEGER NOT NULL,
    term             TEXT NOT NULL,
    entity_id        BLOB NOT NULL,
    PRIMARY KEY (workspace_number, term, entity_id)
) WITHOUT ROWID;
INSERT INTO search_terms_by_number (workspace_number, term, entity_id)
    SELECT w.number, s.term, s.entity_id FROM search_terms s JOIN workspaces w ON w.id = s.workspace_id;
DROP TABLE search_terms;
ALTER TABLE search_terms_by_number RENAME TO search_terms;
