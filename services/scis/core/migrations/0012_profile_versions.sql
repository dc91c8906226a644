-- Profiles get a version (ETag/If-Match: a stale write is refused with 412, and the Redis cache never
-- replaces a newer copy with an older one) and soft deletion (who and when; the row stays, audited).
ALTER TABLE profiles
    ADD COLUMN version    bigint NOT NULL DEFAULT 1,
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN deleted_by text;
