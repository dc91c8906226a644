-- What left `events` (decision 914): one row per day partition archived (pg_dump, hashed) and then
-- detached by the retention command, so that every missing day can be traced to its archive file and
-- checked against its hash. Append-only like the evidence it stands for. Written by the owner only;
-- services read nothing here, so scis_app gets no privilege on it (and the explorer no view).
CREATE TABLE partition_archives (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partition   text NOT NULL UNIQUE,
    ends_at     timestamptz NOT NULL,
    row_count   bigint NOT NULL CHECK (row_count >= 0),
    cases       text[] NOT NULL,             -- references of the cases whose evidence it held
    sessions    uuid[] NOT NULL,
    file        text NOT NULL,                -- where the dump was written (as the command saw the path)
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       bigint NOT NULL CHECK (bytes > 0),
    archived_by text NOT NULL DEFAULT current_user,
    archived_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER partition_archives_append_only BEFORE UPDATE OR DELETE ON partition_archives
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER partition_archives_no_truncate BEFORE TRUNCATE ON partition_archives
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

REVOKE ALL ON partition_archives FROM scis_app;
