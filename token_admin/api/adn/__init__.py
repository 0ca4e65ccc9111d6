"""App.net-style token API (``GET/DELETE token``, ``apps/me/tokens``); see ``urls.py``."""
