"""Records (scheduled and log) and their states."""
