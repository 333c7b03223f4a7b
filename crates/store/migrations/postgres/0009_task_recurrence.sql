-- Recurring tasks (revisit every N days): carrying one out schedules the
-- next, until repeat_until or for ever, as the task says (a recurrence never
-- ends silently). Keep in step with ../sqlite/0009_task_recurrence.sql.

ALTER TABLE tasks ADD COLUMN repeat_every_days BIGINT;
ALTER TABLE tasks ADD COLUMN repeat_until TIMESTAMPTZ;
ALTER TABLE tasks ADD COLUMN repeat_forever BOOLEAN NOT NULL DEFAULT FALSE;
