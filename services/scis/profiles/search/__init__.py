"""Full-text search over everything captured: chat text, handles and nicknames of every event."""
