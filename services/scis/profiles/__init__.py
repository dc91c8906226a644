"""Profiles: forensic profiles of the people seen, CRUD with validation and a Redis cache."""
