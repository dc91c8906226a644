"""Watchlists and alerts: a case watches people and words; matching evidence raises alerts."""
