-- The creation wizard and linked accounts (issue 11, docs/decisions/610, 611).

-- A draft profile, moved step by step (identity, accounts, classification, case, review) and resumable:
-- each step's validated answer is kept under its name; committing creates the profile and keeps the link.
CREATE TABLE profile_drafts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_by   text NOT NULL,
    steps        jsonb NOT NULL DEFAULT '{}'::jsonb,
    profile_id   bigint REFERENCES profiles (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_drafts_owner_idx ON profile_drafts (created_by, id);

-- A second profile of the same person in the same case is refused unless the analyst says why.
ALTER TABLE profiles ADD COLUMN duplicate_reason text;

-- The TikTok accounts (subjects) a profile stands for beyond its own, each with why and who linked it.
CREATE TABLE profile_accounts (
    profile_id bigint NOT NULL REFERENCES profiles (id),
    subject_id bigint NOT NULL REFERENCES subjects (id),
    reason     text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    linked_by  text NOT NULL,
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (profile_id, subject_id)
);
CREATE INDEX profile_accounts_subject_idx ON profile_accounts (subject_id);

-- The explorer sees linked accounts as it sees their profiles; drafts are private work, never shown.
CREATE VIEW explorer.profile_accounts WITH (security_barrier) AS
SELECT a.profile_id, a.subject_id, a.reason, a.linked_by, a.linked_at FROM public.profile_accounts a
WHERE a.profile_id IN (SELECT id FROM explorer.profiles);
