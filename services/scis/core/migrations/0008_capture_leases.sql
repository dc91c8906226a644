-- One owner per capture, across processes and pods. A capture holds the lease of its target (one
-- running capture per @handle) and, through the unique session_id, of its session (one process
-- appending to a chain). The holder renews it by heartbeat; a lease past expires_at, or held by a
-- process that is gone, is stale: its session is adopted (spill replayed, `crash` gap, sealed).
CREATE TABLE capture_leases (
    target      text PRIMARY KEY CHECK (target = lower(target)),
    session_id  uuid NOT NULL UNIQUE,
    owner       text NOT NULL,   -- random token of the holding process, checked on renewal and release
    holder      text NOT NULL,   -- what holds it: "scis capture", "analyser API", "adopter"
    host        text NOT NULL,
    pid         integer NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    renewed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX capture_leases_expires_idx ON capture_leases (expires_at);
