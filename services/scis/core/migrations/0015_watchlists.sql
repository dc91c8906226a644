-- Watchlists and alerts (issue 11, docs/decisions/612): each case watches user ids, @handles, keywords
-- and regular expressions; when the subjects enricher folds a live of that case, every stored event
-- that matches an active entry raises one alert pointing to its record (session, seq, chain hash).
CREATE TABLE watch_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases (id),
    kind       text NOT NULL CHECK (kind IN ('user_id', 'handle', 'keyword', 'regex')),
    value      text NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    -- A handle resolved to TikTok's numeric id when the entry was made: a later rename does not escape it.
    user_id    bigint,
    note       text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    removed_by text
);
CREATE INDEX watch_entries_case_idx ON watch_entries (case_id) WHERE removed_at IS NULL;

CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES cases (id),
    watch_id        bigint NOT NULL REFERENCES watch_entries (id),
    session_id      uuid NOT NULL REFERENCES live_sessions (id),
    seq             bigint NOT NULL,
    chain_hash      text NOT NULL,
    kind            text NOT NULL,
    user_id         bigint,
    unique_id       text,
    body            text,
    captured_at     timestamptz NOT NULL,
    raised_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text,
    UNIQUE (watch_id, session_id, seq)
);
CREATE INDEX alerts_case_idx ON alerts (case_id, id);

CREATE VIEW explorer.watch_entries WITH (security_barrier) AS
SELECT id, case_id, kind, value, user_id, note, created_by, created_at, removed_at, removed_by
FROM public.watch_entries WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);

CREATE VIEW explorer.alerts WITH (security_barrier) AS
SELECT id, case_id, watch_id, session_id, seq, chain_hash, kind, user_id, unique_id, body, captured_at, raised_at,
       acknowledged_at, acknowledged_by
FROM public.alerts WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);
