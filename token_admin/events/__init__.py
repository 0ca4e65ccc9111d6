"""Revocations reach everyone who holds a copy: an outbox of signed events, delivered later.

* ``outbox.record()`` is called by the revocation service in its own transaction and writes
  one ``Delivery`` row per subscribed ``Receiver`` (one INSERT ... SELECT, no cache), so an
  event is never lost and never sent for a revocation that rolled back;
* ``delivery.run_once()`` claims due rows (``SKIP LOCKED`` where the database has it), sends
  them and records the outcome, with exponential backoff, jitter and a deadline; the
  ``deliver_events`` command and the Celery task ``token_admin.events.tasks.deliver`` run it;
* ``formats`` builds the three wire formats: Standard Webhooks, CAEP ``session-revoked``
  Security Event Tokens (RFC 8417/8935) and OIDC back-channel logout tokens.

No payload ever carries a token value or checksum.
"""
