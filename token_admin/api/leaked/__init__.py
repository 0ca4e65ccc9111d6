"""Leaked-token intake: secret scanners report token values found in public, and each one
found is revoked with its whole session (as GitHub's ``POST /credentials/revoke``)."""
