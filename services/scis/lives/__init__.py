"""Lives: active lives, their video (WebRTC) and live updates."""
