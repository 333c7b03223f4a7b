-- An e-mail address is unique within a workspace, not across workspaces:
-- the global index told an admin of one workspace (409 email_taken) that
-- an address was in use in another. Logging in tries each account of the
-- address (see store::auth::login_accounts). Keep in step with the other
-- dialect's 0025_user_email_per_workspace.sql.

DROP INDEX users_email;
CREATE UNIQUE INDEX users_email_per_workspace ON users (workspace_id, email);
CREATE INDEX users_email ON users (email);
