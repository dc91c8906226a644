-- Per-case access: who belongs to which case. An investigator or viewer sees and captures only in
-- the cases they belong to; admins see every case and manage membership.
CREATE TABLE case_members (
    case_id  bigint NOT NULL REFERENCES cases (id),
    username text NOT NULL REFERENCES users (username),
    added_by text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, username)
);
CREATE INDEX case_members_username_idx ON case_members (username);

-- Cases made before membership existed keep their creator as a member.
INSERT INTO case_members (case_id, username, added_by)
SELECT c.id, c.created_by, 'migration'
FROM cases c JOIN users u ON u.username = c.created_by
ON CONFLICT DO NOTHING;
