-- The list by name walks search terms (`ao` + the registered name, see
-- guanxi_domain::search) instead of the index accounts_name: that index grew
-- at random places under an import, while terms are sorted in the importing
-- process and merged in order when it ends. Every account gets its term here,
-- removed ones too (a removal keeps an account's terms for its restore);
-- merged-away ones have none. Keep in step with
-- ../sqlite/0024_name_order_terms.sql.

INSERT INTO search_terms (workspace_number, term, entity_id)
    SELECT workspace_number, 'ao' || name, id FROM accounts WHERE merged_into_id IS NULL
    ON CONFLICT DO NOTHING;
DROP INDEX accounts_name;
