"""SCIS: forensic capture of TikTok LIVE."""

__version__ = "0.1.0"
