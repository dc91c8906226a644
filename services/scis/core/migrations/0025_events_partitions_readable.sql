-- Whoever may read `events` may read its partitions too (decision 911): `scis backup` runs pg_dump as
-- the application role, and pg_dump locks and reads every partition by name. Reading a partition
-- shows nothing the parent does not; writing still goes through the parent only, and UPDATE, DELETE
-- and TRUNCATE stay refused everywhere (0024's triggers, no such grants).

CREATE OR REPLACE FUNCTION scis_events_partition_secure(part regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
        FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = part AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %s', part, grantee);
    END LOOP;
    FOR grantee IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
        FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = 'public.events'::regclass AND a.grantee <> c.relowner AND a.privilege_type = 'SELECT'
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO %s', part, grantee);
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'events_no_truncate') THEN
        EXECUTE format('CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change()', part);
    END IF;
END;
$$;
REVOKE ALL ON FUNCTION scis_events_partition_secure(regclass) FROM PUBLIC;

DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'public.events'::regclass LOOP
        PERFORM scis_events_partition_secure(part);
    END LOOP;
END;
$$;
