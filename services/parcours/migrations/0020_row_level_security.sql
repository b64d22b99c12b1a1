-- Row-level security on every tenant table (issue 13 item 2, ADR 0018).
--
-- The service's queries run as relais_parcours_app (the pool's connections SET ROLE to it):
-- a row is visible or writable only when its pre_id equals the transaction's
-- relais.tenant setting (relais_runtime.db.scope_to_tenant). A transaction that never set
-- it sees no row and can write none, whatever its WHERE says.
--
-- Sweeps across PREs (deadline and consent schedulers, the identity backfill, retention,
-- a guardian's letter found by its secret link) run as relais_parcours_sweep (SET LOCAL
-- ROLE for that transaction only), which a policy of its own lets through: the bypass is
-- named in the code, not implied.
--
-- Migrations run as the login role, the tables' owner (or the superuser in development),
-- which RLS does not apply to (no FORCE ROW LEVEL SECURITY: a data migration must see
-- every row). In production the roles are created by deploy/postgres/initdb (the login
-- role has no CREATEROLE); in development and tests, by this migration.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['relais_parcours_app', 'relais_parcours_sweep'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database of the cluster created it meanwhile
            END;
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO relais_parcours_app, relais_parcours_sweep;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public
    TO relais_parcours_app, relais_parcours_sweep;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO relais_parcours_app, relais_parcours_sweep;
-- Tables later migrations create (as this same login role) get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO relais_parcours_app, relais_parcours_sweep;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO relais_parcours_app, relais_parcours_sweep;

-- Every parcours table with a pre_id (the runtime's relais_* tables are not tenant data of
-- parcours: outbox, inbox, access log). test_row_level_security checks none is missed.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.table_name FROM information_schema.columns c
        JOIN information_schema.tables tb
          ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
        WHERE c.table_schema = 'public' AND c.column_name = 'pre_id'
          AND tb.table_type = 'BASE TABLE' AND c.table_name NOT LIKE 'relais\_%'
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_only ON %I USING (pre_id = current_setting(''relais.tenant'', true)) '
            'WITH CHECK (pre_id = current_setting(''relais.tenant'', true))', t);
        EXECUTE format(
            'CREATE POLICY sweep_across_tenants ON %I TO relais_parcours_sweep '
            'USING (true) WITH CHECK (true)', t);
    END LOOP;
END $$;

-- Views run with their owner's rights unless security_invoker: without it, a view would read
-- every PRE's rows past the policies above.
ALTER VIEW situation_last_contact SET (security_invoker = true);
ALTER VIEW relais_retention_candidates SET (security_invoker = true);

-- Partner ids are one namespace across PREs (a partner's organisation id in its tokens): a
-- PRE choosing an id must learn whether another PRE uses it, and nothing more. The function
-- runs as the tables' owner (row-level security does not apply to it) and answers one bit.
CREATE FUNCTION partner_id_taken(partner_id text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT EXISTS (SELECT 1 FROM partners WHERE id = partner_id) $$;
