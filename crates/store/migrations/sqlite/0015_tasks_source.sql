-- A touch's hook is found by the touch (`tasks.source_activity_id`) on every
-- timeline page and after every logged touch; without this index each lookup
-- scanned all tasks. Keep in step with ../postgres/0015_tasks_source.sql.

CREATE INDEX tasks_source ON tasks (source_activity_id);
