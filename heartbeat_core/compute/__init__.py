"""Compute: run each metric's point-in-time SQL (read-only, with a timeout) and write its history."""
