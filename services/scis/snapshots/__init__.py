"""Snapshots ("mark this moment"): a live's still frame and the records around it, hashed into the case."""
