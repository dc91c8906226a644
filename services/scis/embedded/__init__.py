"""The embedded default: real PostgreSQL, Redis-protocol server and nginx started from wheels."""
