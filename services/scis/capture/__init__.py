"""Capture of TikTok LIVE: sources (websocket, browser, replay), pipeline, storage, fan-out, runner."""
