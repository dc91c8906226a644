"""Backups of the evidence: a consistent database snapshot and the evidence files, with SHA-256s."""
