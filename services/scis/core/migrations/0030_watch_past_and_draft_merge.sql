-- Watches that also look back, and wizard drafts merged into an existing profile (issue 11,
-- docs/decisions/615 and 616).

-- A watch made with "scan the evidence already captured" raised alerts for every past match when it
-- was made; the live path then matches it against every record it folds, whenever it was captured (a
-- late capture of a live that started before the watch is not skipped). alerts' unique key
-- (watch_id, session_id, seq) keeps the two paths from raising a record twice.
ALTER TABLE watch_entries ADD COLUMN scans_past boolean NOT NULL DEFAULT false;

CREATE OR REPLACE VIEW explorer.watch_entries WITH (security_barrier) AS
SELECT id, case_id, kind, value, user_id, note, created_by, created_at, removed_at, removed_by, scans_past
FROM public.watch_entries WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);

-- A draft ends as a new profile ('created') or merged into an existing one ('merged'); profile_id
-- names that profile either way.
ALTER TABLE profile_drafts ADD COLUMN outcome text CHECK (outcome IN ('created', 'merged'));
UPDATE profile_drafts SET outcome = 'created' WHERE profile_id IS NOT NULL;
ALTER TABLE profile_drafts ADD CONSTRAINT profile_drafts_outcome_named
    CHECK ((profile_id IS NULL) = (outcome IS NULL));
