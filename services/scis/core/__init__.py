"""The shared core every SCIS service is built on."""
