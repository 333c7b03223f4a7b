-- Activities can be removed and restored (undoing an import of activities):
-- soft delete, as accounts and contacts. Reads leave removed ones out. Keep
-- in step with ../postgres/0019_activities_deleted.sql.

ALTER TABLE activities ADD COLUMN deleted_at TEXT;
