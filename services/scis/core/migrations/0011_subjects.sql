-- Subjects from the evidence (issue 11, docs/decisions/601): every user seen in a capture, keyed by
-- TikTok's numeric user id, with where each @handle and nickname was first and last seen, and its
-- counters per live. All of it is derived from `events` and can be recomputed (`scis profiles rebuild`).

-- The latest handle/nickname/avatar win by (captured_at, session_id, seq): a total order, so the
-- result does not depend on the order in which lives are enriched.
ALTER TABLE subjects
    ADD COLUMN avatar_url      text,
    ADD COLUMN avatar_seen_at  timestamptz,
    ADD COLUMN last_session_id uuid,
    ADD COLUMN last_seq        bigint;

ALTER TABLE subject_aliases
    ADD COLUMN first_session_id uuid,
    ADD COLUMN first_seq        bigint,
    ADD COLUMN last_session_id  uuid,
    ADD COLUMN last_seq         bigint;
CREATE INDEX subject_aliases_value_idx ON subject_aliases (lower(value));

-- One subject in one live: when and where it was first/last seen there, and what it did.
CREATE TABLE subject_lives (
    subject_id    bigint NOT NULL REFERENCES subjects (id),
    session_id    uuid NOT NULL REFERENCES live_sessions (id),
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    first_seq     bigint NOT NULL,
    last_seq      bigint NOT NULL,
    events        bigint NOT NULL DEFAULT 0,
    messages      bigint NOT NULL DEFAULT 0,
    gifts         bigint NOT NULL DEFAULT 0,
    diamonds      bigint NOT NULL DEFAULT 0,
    likes         bigint NOT NULL DEFAULT 0,
    joins         bigint NOT NULL DEFAULT 0,
    follows       bigint NOT NULL DEFAULT 0,
    shares        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (subject_id, session_id)
);
CREATE INDEX subject_lives_session_idx ON subject_lives (session_id);

-- How far each live's events have been folded into the tables above (the last seq read).
CREATE TABLE subject_enrichment (
    session_id uuid PRIMARY KEY REFERENCES live_sessions (id),
    last_seq   bigint NOT NULL
);
