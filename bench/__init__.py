"""Benchmarks of token_admin (issue 7): scripts, not tests. Run with ``make bench``."""
