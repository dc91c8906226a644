-- Accounts and the audit chain.
--
-- 1. audit_log becomes a hash chain: a BEFORE INSERT trigger gives every row the next chain_seq,
--    the previous row's hash (prev_hash) and its own row_hash = sha256(prev_hash || '\n' || canonical
--    row). The trigger locks the one-row head table, so concurrent inserts are chained one after the
--    other in commit order. Every SEAL_EVERY rows a seal (seq, row_hash) is appended to audit_seals.
--    `scis verify --audit` recomputes the chain in Python and names the first row that was changed,
--    deleted or inserted out of order. The canonical form is documented in
--    docs/decisions/304-audit-hash-chain.md and implemented twice (here and core/audit/chain.py).
-- 2. users gain password_changed_at (shown to admins; sessions are revoked on change).

ALTER TABLE users ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE audit_log
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN row_hash  text;

CREATE TABLE audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq   bigint  NOT NULL DEFAULT 0,
    last_hash  text    NOT NULL DEFAULT repeat('0', 64),
    seal_every integer NOT NULL DEFAULT 100 CHECK (seal_every > 0)
);
INSERT INTO audit_chain_head DEFAULT VALUES;
CREATE TRIGGER audit_chain_head_kept BEFORE DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

-- A seal repeats the hash of every seal_every-th row: rewriting history means rewriting seals too.
CREATE TABLE audit_seals (
    seq       bigint PRIMARY KEY,
    row_hash  text NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

-- One field of the canonical form: '-' for NULL, else '<length in characters>:<text>'.
CREATE FUNCTION scis_audit_field(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN value IS NULL THEN '-' ELSE length(value)::text || ':' || value END $$;

CREATE FUNCTION scis_audit_canonical(r audit_log) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT concat_ws('|',
        scis_audit_field(r.chain_seq::text),
        scis_audit_field(r.id::text),
        scis_audit_field((extract(epoch FROM r.at) * 1000000)::bigint::text),
        scis_audit_field(r.actor),
        scis_audit_field(r.role),
        scis_audit_field(r.action),
        scis_audit_field(r.target),
        scis_audit_field(r.source_ip),
        scis_audit_field(r.request_id),
        scis_audit_field(r.service),
        scis_audit_field(r.details::text))
    $$;

CREATE FUNCTION scis_audit_link(prev_hash text, canonical text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT encode(sha256(convert_to(prev_hash || E'\n' || canonical, 'UTF8')), 'hex') $$;

-- SECURITY DEFINER: the application role inserts audit rows but has no right on the head or seals.
CREATE FUNCTION scis_audit_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
DECLARE
    head audit_chain_head;
BEGIN
    SELECT * INTO head FROM audit_chain_head WHERE singleton FOR UPDATE;
    NEW.chain_seq := head.last_seq + 1;
    NEW.prev_hash := head.last_hash;
    NEW.row_hash := scis_audit_link(NEW.prev_hash, scis_audit_canonical(NEW));
    UPDATE audit_chain_head SET last_seq = NEW.chain_seq, last_hash = NEW.row_hash WHERE singleton;
    IF NEW.chain_seq % head.seal_every = 0 THEN
        INSERT INTO audit_seals (seq, row_hash) VALUES (NEW.chain_seq, NEW.row_hash);
    END IF;
    RETURN NEW;
END;
$$;

-- Rows written before the chain existed are chained in id order, as if inserted now.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DO $$
DECLARE
    r audit_log;
    head audit_chain_head;
BEGIN
    SELECT * INTO head FROM audit_chain_head WHERE singleton FOR UPDATE;
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        r.chain_seq := head.last_seq + 1;
        r.prev_hash := head.last_hash;
        r.row_hash := scis_audit_link(r.prev_hash, scis_audit_canonical(r));
        UPDATE audit_log SET chain_seq = r.chain_seq, prev_hash = r.prev_hash, row_hash = r.row_hash
            WHERE id = r.id;
        head.last_seq := r.chain_seq;
        head.last_hash := r.row_hash;
        IF r.chain_seq % head.seal_every = 0 THEN
            INSERT INTO audit_seals (seq, row_hash) VALUES (r.chain_seq, r.row_hash);
        END IF;
    END LOOP;
    UPDATE audit_chain_head SET last_seq = head.last_seq, last_hash = head.last_hash WHERE singleton;
END;
$$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;

ALTER TABLE audit_log
    ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN row_hash SET NOT NULL,
    ADD CONSTRAINT audit_log_chain_seq_key UNIQUE (chain_seq);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION scis_audit_chain();

REVOKE ALL ON audit_chain_head FROM PUBLIC;
REVOKE ALL ON audit_seals FROM PUBLIC;

-- The application role appends and reads; it never changes or removes audit history.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'scis_app') THEN
        GRANT SELECT, INSERT ON audit_log TO scis_app;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM scis_app;
        GRANT SELECT ON audit_seals TO scis_app;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_seals FROM scis_app;
        GRANT SELECT ON audit_chain_head TO scis_app;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_chain_head FROM scis_app;
        GRANT SELECT, INSERT, UPDATE ON users TO scis_app;
        REVOKE DELETE, TRUNCATE ON users FROM scis_app;
    END IF;
END;
$$;
