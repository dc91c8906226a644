-- Foundation schema: accounts, append-only audit log, cases, subjects, live sessions and evidence.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'investigator', 'viewer')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Who did what to which target, when and from where. Nothing may change or remove a row.
CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,
    role       text,
    action     text NOT NULL,
    target     text,
    source_ip  text,
    request_id text,
    service    text,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);

CREATE FUNCTION scis_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

CREATE TABLE cases (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference   text NOT NULL UNIQUE,
    title       text NOT NULL,
    description text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A person seen on TikTok. The numeric user id is the identity; the @handle is an attribute.
CREATE TABLE subjects (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tiktok_user_id bigint UNIQUE,
    unique_id      text,
    nickname       text,
    sec_uid        text,
    first_seen_at  timestamptz,
    last_seen_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subjects_unique_id_idx ON subjects (lower(unique_id));

-- Every @handle and nickname a subject was seen with, and when.
CREATE TABLE subject_aliases (
    subject_id    bigint NOT NULL REFERENCES subjects (id),
    kind          text NOT NULL CHECK (kind IN ('unique_id', 'nickname')),
    value         text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (subject_id, kind, value)
);

-- An analyst's forensic profile of a subject within a case.
CREATE TABLE profiles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     bigint REFERENCES cases (id),
    subject_id  bigint REFERENCES subjects (id),
    unique_id   text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    risk_level  text NOT NULL DEFAULT 'unknown' CHECK (risk_level IN ('unknown', 'low', 'medium', 'high')),
    tags        text[] NOT NULL DEFAULT '{}',
    notes       text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profiles_case_idx ON profiles (case_id);

-- One capture of one live: its configuration snapshot and the seals of its hash chain.
CREATE TABLE live_sessions (
    id            uuid PRIMARY KEY,
    case_id       bigint REFERENCES cases (id),
    target        text NOT NULL,
    room_id       text,
    source        text NOT NULL CHECK (source IN ('browser', 'websocket', 'replay')),
    status        text NOT NULL,
    status_reason text NOT NULL DEFAULT '',
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    chain_head    text,
    events_count  bigint NOT NULL DEFAULT 0,
    created_by    text NOT NULL DEFAULT 'system'
);
CREATE INDEX live_sessions_case_idx ON live_sessions (case_id);
CREATE INDEX live_sessions_status_idx ON live_sessions (status);

-- The evidence: one row per captured event or chain record (session start/end, gap), append-only.
-- seq orders the hash chain within a session; chain_hash = sha256(prev chain_hash || canonical event).
CREATE TABLE events (
    session_id   uuid NOT NULL REFERENCES live_sessions (id),
    seq          bigint NOT NULL,
    msg_id       bigint,
    kind         text NOT NULL,
    method       text,
    room_id      text,
    user_id      bigint,
    unique_id    text,
    nickname     text,
    body         text,
    gift_id      bigint,
    gift_name    text,
    diamond_count integer,
    repeat_count integer,
    inferred     boolean NOT NULL DEFAULT false,
    counts       jsonb,
    data         jsonb NOT NULL DEFAULT '{}'::jsonb,
    server_time  timestamptz,
    captured_at  timestamptz NOT NULL,
    raw          bytea,
    raw_sha256   text,
    chain_hash   text NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX events_session_msg_idx ON events (session_id, kind, msg_id) WHERE msg_id IS NOT NULL;
CREATE INDEX events_captured_brin ON events USING brin (captured_at);
CREATE INDEX events_user_idx ON events (user_id, captured_at) WHERE user_id IS NOT NULL;
CREATE INDEX events_session_kind_idx ON events (session_id, kind, seq);

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

CREATE TABLE reports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     bigint REFERENCES cases (id),
    title       text NOT NULL,
    template    text NOT NULL,
    sha256      text NOT NULL,
    pdf         bytea NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
