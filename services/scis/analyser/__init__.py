"""Analyser: real-time capture of TikTok lives and Socket.IO fan-out."""
