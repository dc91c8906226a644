"""Health of every service and key figures."""
