-- At most one live account per USCC in a workspace: two different legal
-- entities never share one, so a second is always a duplicate, and the
-- database refuses it even when two people enter it at the same moment
-- (also through two servers). Of accounts that already share one (saved past
-- 查重 earlier) the oldest holds it; the others are marked `uscc_shared`,
-- left to be merged into it. Keep in step with the other dialect's 0026.

ALTER TABLE accounts ADD COLUMN uscc_shared BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE accounts SET uscc_shared = TRUE
WHERE uscc IS NOT NULL AND deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM accounts o
              WHERE o.workspace_id = accounts.workspace_id AND o.uscc = accounts.uscc
                AND o.deleted_at IS NULL AND o.id < accounts.id);
CREATE UNIQUE INDEX accounts_uscc_live ON accounts (workspace_id, uscc)
    WHERE uscc IS NOT NULL AND deleted_at IS NULL AND NOT uscc_shared;
