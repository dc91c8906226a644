-- Full-text search with French and English stemming, accents ignored (issue 11, docs/decisions/614):
-- "mangent" finds "mangé", "running" finds "runs", "cafe" finds "Café". Three text search
-- configurations, each built on a stock one with `unaccent` in front of its dictionary (the recipe
-- of PostgreSQL's unaccent documentation), index the same text: scis_simple keeps every word and
-- handle exactly as written (lower case, unaccented), scis_english and scis_french add their stems.
-- A query is read the three ways and matches when one reading matches (see scis_event_query).
CREATE TEXT SEARCH CONFIGURATION public.scis_simple (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION public.scis_simple
    ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, simple;
CREATE TEXT SEARCH CONFIGURATION public.scis_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION public.scis_english
    ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, english_stem;
CREATE TEXT SEARCH CONFIGURATION public.scis_french (COPY = pg_catalog.french);
ALTER TEXT SEARCH CONFIGURATION public.scis_french
    ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, french_stem;

-- The index is on the document expression: it is dropped before the function changes and built again
-- after (on `events`, partitioned: PostgreSQL builds it on every partition and on each new one).
DROP INDEX public.events_text_search;

-- The text a record is found by: its chat text, its handle whole and split on '.' and '_' (the parser
-- keeps "bob.builds" as one word), its nickname. to_tsvector with a named configuration is IMMUTABLE.
CREATE FUNCTION scis_event_text(body text, unique_id text, nickname text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN concat_ws(' ', body, unique_id, translate(unique_id, '._', '  '), nickname);

CREATE OR REPLACE FUNCTION scis_event_document(body text, unique_id text, nickname text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_tsvector('public.scis_simple'::regconfig, scis_event_text(body, unique_id, nickname))
        || to_tsvector('public.scis_english'::regconfig, scis_event_text(body, unique_id, nickname))
        || to_tsvector('public.scis_french'::regconfig, scis_event_text(body, unique_id, nickname));

-- Every word of the query must match in one reading: as written, as English stems, or as French stems
-- (stop words of a language drop out of its reading only). An empty reading is ignored by `||`.
CREATE OR REPLACE FUNCTION scis_event_query(q text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN websearch_to_tsquery('public.scis_simple'::regconfig, q)
        || websearch_to_tsquery('public.scis_english'::regconfig, q)
        || websearch_to_tsquery('public.scis_french'::regconfig, q);

CREATE INDEX events_text_search ON public.events USING gin (scis_event_document(body, unique_id, nickname));
