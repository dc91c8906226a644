"""Investigation cases."""
