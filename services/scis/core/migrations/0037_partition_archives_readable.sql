-- `scis backup` runs pg_dump as scis_app, and pg_dump reads every table of the database: with no
-- privilege on partition_archives (0036) every backup failed. The record of what left `events` belongs
-- in a backup anyway. Reading is all scis_app gets: writes stay the owner's, and the append-only
-- triggers still refuse any change.
GRANT SELECT ON partition_archives TO scis_app;
