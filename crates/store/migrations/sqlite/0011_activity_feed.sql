-- The workspace-wide activity feed (活动), newest first. Keep in step with
-- ../postgres/0011_activity_feed.sql.

CREATE INDEX activities_feed ON activities (workspace_id, started_at, id);
