"""Subjects: the people seen in captures, derived from the evidence (issue 11)."""
