"""Frontend: serves the analysts' web UI (a first page until the React UI lands)."""
