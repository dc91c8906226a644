-- Full-text search over everything captured (issue 11, docs/decisions/613): chat text, handles and
-- nicknames of every event, accents ignored, served by a GIN index on an expression (events are
-- append-only; no column is added to them).
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE (it reads a dictionary); naming the dictionary makes the wrapper safe to
-- declare IMMUTABLE, which an index expression needs. A handle is indexed whole (bob.builds) and by its
-- parts (bob, builds): the parser would otherwise keep "bob.builds" as one word.
CREATE FUNCTION scis_event_document(body text, unique_id text, nickname text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_tsvector('simple'::regconfig, public.unaccent('public.unaccent'::regdictionary,
        concat_ws(' ', body, unique_id, translate(unique_id, '._', '  '), nickname)));

CREATE FUNCTION scis_event_query(q text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN websearch_to_tsquery('simple'::regconfig, public.unaccent('public.unaccent'::regdictionary, q));

CREATE INDEX events_text_search ON events USING gin (scis_event_document(body, unique_id, nickname));
