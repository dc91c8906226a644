-- Profile search and notes (issue 11, docs/decisions/603, 604): analyst-given aliases on a profile, and trigram
-- indexes so a fuzzy search over handles, names and aliases does not scan every row.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE profiles ADD COLUMN aliases text[] NOT NULL DEFAULT '{}';

CREATE INDEX profiles_unique_id_trgm ON profiles USING gin (unique_id gin_trgm_ops);
CREATE INDEX profiles_display_name_trgm ON profiles USING gin (lower(display_name) gin_trgm_ops);
CREATE INDEX profiles_tags_idx ON profiles USING gin (tags);
CREATE INDEX subject_aliases_value_trgm ON subject_aliases USING gin (lower(value) gin_trgm_ops);

-- Analysts' notes on a profile: authored, timestamped, append-only (a correction is a new note).
CREATE TABLE profile_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    profile_id bigint NOT NULL REFERENCES profiles (id),
    author     text NOT NULL,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_notes_profile_idx ON profile_notes (profile_id, id);
CREATE TRIGGER profile_notes_append_only BEFORE UPDATE OR DELETE ON profile_notes
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER profile_notes_no_truncate BEFORE TRUNCATE ON profile_notes
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

-- Attachments: the bytes stored once by SHA-256, each attachment a named, typed, authored link.
CREATE TABLE attachment_blobs (
    sha256  text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size    bigint NOT NULL,
    content bytea NOT NULL
);
CREATE TABLE profile_attachments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    profile_id  bigint NOT NULL REFERENCES profiles (id),
    sha256      text NOT NULL REFERENCES attachment_blobs (sha256),
    filename    text NOT NULL,
    media_type  text NOT NULL,
    uploaded_by text NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_attachments_profile_idx ON profile_attachments (profile_id, id);
