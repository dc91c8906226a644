-- How partitions of `events` are made (migration 0024 turns `events` into a table partitioned by
-- captured_at): one partition per UTC day, named events_pYYYYMMDD, created ahead of time by
-- `scis db partitions --ahead N` (a CronJob in the chart) as the database owner. Decision 911.
--
-- A partition gets what the parent cannot give it:
-- * the per-session unique keys (session_id, seq) and (session_id, kind, msg_id): PostgreSQL only
--   accepts a unique index on a partitioned table if it contains the partition key, and these must
--   not, so each partition holds them for its own rows;
-- * the TRUNCATE refusal: a statement trigger on the parent does not fire for TRUNCATE of a partition;
-- * no privileges for anyone but the owner: rows go in and out through the parent only, where the
--   grants are (default privileges would otherwise give scis_app UPDATE and DELETE on every new table).
-- The BRIN and other indexes, the foreign key and the append-only row trigger come from the parent.

CREATE FUNCTION scis_events_partition_secure(part regclass) RETURNS void LANGUAGE plpgsql AS $$
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
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'events_no_truncate') THEN
        EXECUTE format('CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change()', part);
    END IF;
END;
$$;

-- The partition for the UTC day of `day`, created if missing; returns its name.
CREATE FUNCTION scis_events_partition_for(day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    name text := format('events_p%s', to_char(day, 'YYYYMMDD'));
    low timestamptz := (day::timestamp AT TIME ZONE 'UTC');
BEGIN
    IF to_regclass(format('public.%I', name)) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE public.%I PARTITION OF public.events FOR VALUES FROM (%L) TO (%L)',
                           name, low, low + interval '1 day');
        EXCEPTION WHEN check_violation THEN
            -- events_default already holds rows of that day (no partition existed when they came):
            -- they stay there, in `events` and in their chains; the day simply gets no partition.
            RAISE WARNING 'events_default holds rows of %; % not created', day, name;
            RETURN NULL;
        END;
        EXECUTE format('CREATE UNIQUE INDEX %I ON public.%I (session_id, seq)', name || '_seq_key', name);
        EXECUTE format('CREATE UNIQUE INDEX %I ON public.%I (session_id, kind, msg_id) WHERE msg_id IS NOT NULL',
                       name || '_msg_key', name);
        PERFORM scis_events_partition_secure(format('public.%I', name)::regclass);
    END IF;
    RETURN name;
END;
$$;

-- Today's partition (UTC) and the next `days` ones: every one that was missing is created. Rows of a
-- day without a partition go to events_default, so a late job never loses or refuses evidence.
CREATE FUNCTION scis_events_partitions_ahead(days integer) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    IF days < 0 OR days > 366 THEN
        RAISE EXCEPTION 'days ahead must be between 0 and 366, not %', days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT p FROM generate_series(today, today + days, interval '1 day') AS d,
                      scis_events_partition_for(d::date) AS p
        WHERE p IS NOT NULL;
END;
$$;

REVOKE ALL ON FUNCTION scis_events_partition_secure(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION scis_events_partition_for(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION scis_events_partitions_ahead(integer) FROM PUBLIC;
