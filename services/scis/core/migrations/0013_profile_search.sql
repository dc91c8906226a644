-- Profile search (issue 11, docs/decisions/603): analyst-given aliases on a profile, and trigram
-- indexes so a fuzzy search over handles, names and aliases does not scan every row.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE profiles ADD COLUMN aliases text[] NOT NULL DEFAULT '{}';

CREATE INDEX profiles_unique_id_trgm ON profiles USING gin (unique_id gin_trgm_ops);
CREATE INDEX profiles_display_name_trgm ON profiles USING gin (lower(display_name) gin_trgm_ops);
CREATE INDEX profiles_tags_idx ON profiles USING gin (tags);
CREATE INDEX subject_aliases_value_trgm ON subject_aliases USING gin (lower(value) gin_trgm_ops);
