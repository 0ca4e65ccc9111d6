"""Benchmarks of token_admin: scripts, not tests. Run with ``make bench``."""
