-- `events` becomes a table partitioned by captured_at (one partition per UTC day, made ahead by
-- `scis db partitions --ahead N`), so that old days can be detached and archived per case retention
-- without touching the partitions live captures write to. Decision 911.
--
-- The existing rows are not copied: the old table is attached as one partition, events_legacy, that
-- covers every time up to the end of the current UTC day (an empty one is simply dropped). Its rows,
-- chains and per-session unique keys stay exactly as they were. Whatever earlier migrations hung on
-- `events` follows, read from the catalog rather than listed here: the views that read it are
-- re-pointed at the new table (same definitions and options), its non-unique indexes, foreign keys
-- and triggers are re-made on the parent (PostgreSQL then adopts the old table's matching indexes
-- instead of building them again), and its grants move to the parent. Partitions grant nothing.

-- 1. What hangs on `events`, read while the name still resolves to the old table.
CREATE TEMPORARY TABLE scis_events_views ON COMMIT DROP AS
SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS definition,
       coalesce(array_to_string(v.reloptions, ', '), '') AS options
FROM pg_depend d
JOIN pg_rewrite w ON w.oid = d.objid
JOIN pg_class v ON v.oid = w.ev_class
WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = 'public.events'::regclass AND v.oid <> d.refobjid
  AND v.relkind = 'v';
CREATE TEMPORARY TABLE scis_events_parts ON COMMIT DROP AS
SELECT 'index' AS kind, i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition,
       NOT i.indisunique AS on_parent, con.conname AS constraint_name
FROM pg_index i LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
WHERE i.indrelid = 'public.events'::regclass
UNION ALL
SELECT 'foreign key', conname, pg_get_constraintdef(oid), true, conname
FROM pg_constraint WHERE conrelid = 'public.events'::regclass AND contype = 'f'
UNION ALL
SELECT 'trigger', tgname, pg_get_triggerdef(oid), true, NULL
FROM pg_trigger WHERE tgrelid = 'public.events'::regclass AND NOT tgisinternal;

-- 2. The old table steps aside: new names for its indexes and keys, its triggers dropped (the
--    parent's are cloned onto it when it is attached).
ALTER TABLE public.events RENAME TO events_legacy;
DO $$
DECLARE
    part record;
    renamed text;
BEGIN
    FOR part IN SELECT * FROM scis_events_parts LOOP
        renamed := CASE WHEN part.name LIKE 'events%' THEN 'events_legacy' || substr(part.name, 7)
                        ELSE part.name || '_legacy' END;
        IF part.kind = 'trigger' THEN
            EXECUTE format('DROP TRIGGER %I ON public.events_legacy', part.name);
        ELSIF part.constraint_name IS NOT NULL OR part.kind = 'foreign key' THEN
            EXECUTE format('ALTER TABLE public.events_legacy RENAME CONSTRAINT %I TO %I',
                           coalesce(part.constraint_name, part.name), renamed);
        ELSE
            EXECUTE format('ALTER INDEX public.%I RENAME TO %I', part.name, renamed);
        END IF;
    END LOOP;
END;
$$;

-- 3. The partitioned table: same columns, defaults, checks and generated columns, in the same order,
--    then the indexes, foreign keys and triggers of the old table (unique ones stay per partition).
CREATE TABLE public.events (
    LIKE public.events_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE
) PARTITION BY RANGE (captured_at);
DO $$
DECLARE
    part record;
BEGIN
    FOR part IN SELECT * FROM scis_events_parts WHERE on_parent ORDER BY kind LOOP
        IF part.kind = 'foreign key' THEN
            EXECUTE format('ALTER TABLE public.events ADD CONSTRAINT %I %s', part.name, part.definition);
        ELSE
            EXECUTE part.definition;  -- CREATE INDEX / CREATE TRIGGER ... ON public.events ...
        END IF;
    END LOOP;
END;
$$;

-- The old table's grants, moved to the parent; what the default privileges gave beyond them goes.
DO $$
DECLARE
    entry record;
BEGIN
    FOR entry IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee
        FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = 'public.events'::regclass AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE ALL ON public.events FROM %s', entry.grantee);
    END LOOP;
    FOR entry IN
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee, a.privilege_type
        FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = 'public.events_legacy'::regclass AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT %s ON public.events TO %s', entry.privilege_type, entry.grantee);
    END LOOP;
END;
$$;

-- 4. The views read the new table: the same definitions, resolved again, with the same options.
DO $$
DECLARE
    view record;
BEGIN
    FOR view IN SELECT * FROM scis_events_views LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s%s AS %s', view.name,
                       CASE WHEN view.options = '' THEN '' ELSE format(' WITH (%s)', view.options) END,
                       view.definition);
    END LOOP;
END;
$$;

-- 5. The old rows become one partition; the default partition keeps a row of a day nobody made a
--    partition for (stored, never refused); day partitions from today (or the legacy end) a week on.
DO $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    first_day date := today;
    newest timestamptz;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.events_legacy) THEN
        DROP TABLE public.events_legacy;
    ELSE
        SELECT max(captured_at) INTO newest FROM public.events_legacy;
        first_day := greatest(today, (newest AT TIME ZONE 'UTC')::date) + 1;
        EXECUTE format('ALTER TABLE public.events ATTACH PARTITION public.events_legacy '
                       'FOR VALUES FROM (MINVALUE) TO (%L)', first_day::timestamp AT TIME ZONE 'UTC');
        PERFORM scis_events_partition_secure('public.events_legacy'::regclass);
    END IF;
    CREATE TABLE public.events_default PARTITION OF public.events DEFAULT;
    CREATE UNIQUE INDEX events_default_seq_key ON public.events_default (session_id, seq);
    CREATE UNIQUE INDEX events_default_msg_key ON public.events_default (session_id, kind, msg_id)
        WHERE msg_id IS NOT NULL;
    PERFORM scis_events_partition_secure('public.events_default'::regclass);
    PERFORM scis_events_partition_for(d::date) FROM generate_series(first_day, today + 7, interval '1 day') AS d;
END;
$$;
