-- The explorer's own records (issue 12, docs/decisions/711): each account's query history, saved
-- queries (private, or shared with a case's members), and which query a backend is running so its
-- analyst, and only that analyst, can cancel it. Not shown through the explorer views: history and
-- saved queries are read through the API, which keeps them per account and per case.

-- No sequence on purpose: ids are random, so writing history moves no counter.
CREATE TABLE explorer_history (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username    text NOT NULL,
    sql         text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('answered', 'refused', 'failed', 'cancelled')),
    row_count   integer,
    truncated   boolean NOT NULL DEFAULT false,
    elapsed_ms  double precision,
    error       text,
    format      text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'csv')),
    ran_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX explorer_history_user_idx ON explorer_history (username, ran_at DESC);

CREATE TABLE explorer_saved_queries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner       text NOT NULL,
    case_id     bigint REFERENCES cases (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text,
    sql         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, name)
);
CREATE INDEX explorer_saved_queries_case_idx ON explorer_saved_queries (case_id) WHERE case_id IS NOT NULL;

-- The analyst's id for the running query (given by the client), so POST .../cancel can find it.
ALTER TABLE explorer_grants ADD COLUMN query_id uuid;
CREATE UNIQUE INDEX explorer_grants_query_idx ON explorer_grants (query_id) WHERE query_id IS NOT NULL;
