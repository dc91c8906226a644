-- Per-case retention (decision 913): how many days after the day it was captured a case's evidence
-- must stay in `events`. NULL (the default, and every existing case) keeps it for good. The
-- retention command (`scis db partitions --detach-before`, as the owner) archives and detaches a day
-- partition only when every case with events in it has a retention and it has run out for that day.
ALTER TABLE cases ADD COLUMN retention_days integer
    CONSTRAINT cases_retention_days_range CHECK (retention_days IS NULL OR retention_days BETWEEN 1 AND 36500);
