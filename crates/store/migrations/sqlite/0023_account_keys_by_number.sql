-- The indexes 查重 looks accounts up by (name key, pinyin key, USCC, phone
-- number) and the list by name name the workspace by its small number
-- instead of its 16-byte id, as search_terms does since migration 22: they
-- grow at random places, so a bulk write rewrites most of their pages at
-- every commit, and the id was a fifth to a half of each entry. The USCC
-- index holds only accounts that have one. Every account and account phone
-- is written with its workspace's number
-- (guanxi_store::accounts::insert_keyed); the default only fills the column
-- for the update below, as SQLite cannot add a NOT NULL column without one.
-- Keep in step with ../postgres/0023_account_keys_by_number.sql.

ALTER TABLE accounts ADD COLUMN workspace_number INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET workspace_number = (SELECT number FROM workspaces w WHERE w.id = accounts.workspace_id);
DROP INDEX accounts_name_key;
DROP INDEX accounts_name_pinyin;
DROP INDEX accounts_uscc;
CREATE INDEX accounts_name_key ON accounts (workspace_number, name_key);
CREATE INDEX accounts_name_pinyin ON accounts (workspace_number, name_pinyin);
CREATE INDEX accounts_uscc ON accounts (workspace_number, uscc) WHERE uscc IS NOT NULL;
-- The list by name too (its largest index that grows at random places).
DROP INDEX accounts_name;
CREATE INDEX accounts_name ON accounts (workspace_number, name, id);

ALTER TABLE account_phones ADD COLUMN workspace_number INTEGER NOT NULL DEFAULT 0;
UPDATE account_phones SET workspace_number = (SELECT number FROM workspaces w WHERE w.id = account_phones.workspace_id);
DROP INDEX account_phones_number;
CREATE INDEX account_phones_number ON account_phones (workspace_number, number);
