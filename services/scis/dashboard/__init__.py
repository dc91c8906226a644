"""Dashboard: the hub — navigation, health of every service, key figures, cases, accounts."""
