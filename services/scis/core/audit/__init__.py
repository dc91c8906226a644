"""The append-only audit log: who did what to which target, when and from where."""
