-- Report generation as a job (issue 12, docs/decisions/710): asked for by an API call, taken by any
-- reports replica's worker (FOR UPDATE SKIP LOCKED), progress written while it runs. A worker proves
-- it is alive by its heartbeat; a job whose worker stopped beating is taken again, and failed with
-- the reason once it has been tried max_attempts times, so no job stays `running` forever.
CREATE TABLE report_jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('case', 'subject')),
    case_id       bigint NOT NULL REFERENCES cases (id),
    subject_id    bigint REFERENCES subjects (id),
    title         text,
    language      text NOT NULL CHECK (language IN ('en', 'fr')),
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    stage         text NOT NULL DEFAULT 'queued',
    reason        text,
    attempts      integer NOT NULL DEFAULT 0,
    worker        text,
    heartbeat_at  timestamptz,
    report_id     bigint REFERENCES reports (id),
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    CHECK ((kind = 'subject') = (subject_id IS NOT NULL)),
    CHECK ((status = 'done') = (report_id IS NOT NULL)),
    CHECK (status <> 'failed' OR reason IS NOT NULL)
);
CREATE INDEX report_jobs_waiting_idx ON report_jobs (id) WHERE status IN ('queued', 'running');
CREATE INDEX report_jobs_case_idx ON report_jobs (case_id, id);

-- Which report a subject report is about (NULL for case reports).
ALTER TABLE reports ADD COLUMN subject_id bigint REFERENCES subjects (id);

CREATE VIEW explorer.report_jobs WITH (security_barrier) AS
SELECT id, kind, case_id, subject_id, title, language, status, progress, stage, reason, attempts, report_id,
       requested_by, requested_at, started_at, finished_at
FROM public.report_jobs
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);
