"""Makes token_admin's validator DOT's *default* validator, for scripts/dot_suite.sh.

Changing DOT's defaults rather than setting ``OAUTH2_PROVIDER`` keeps every DOT test that
configures its own validator (or replaces ``OAUTH2_PROVIDER`` wholesale) in charge, as it
would be in a project that sets the validator in its settings.
"""
