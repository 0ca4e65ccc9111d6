"""Signals sent by token_admin."""

from django.dispatch import Signal

#: Sent once per call to the revocation service, after its transaction has committed.
#:
#: ``sender`` is ``token_admin.models.RevocationEvent``. Keyword arguments:
#:
#: * ``event``: the ``RevocationEvent`` written for the call (surface, actor, selection,
#:   reason and counts);
#: * ``access_tokens``: how many access tokens were revoked (deleted, as DOT does);
#: * ``refresh_tokens``: how many refresh tokens were marked revoked;
#: * ``grants``: how many authorization grants were deleted.
#:
#: A call that found nothing left to revoke still sends it, with zero counts, unless the
#: caller passed ``audit_empty=False`` (then neither an event nor the signal).
tokens_revoked = Signal()

#: Sent after a leaked-token report revoked something (``token_admin.api.leaked``), after
#: ``tokens_revoked``, once its transaction has committed: the hook to tell the people
#: concerned. ``sender`` is ``RevocationEvent``. Keyword arguments:
#:
#: * ``event``: the ``RevocationEvent`` of the revocation;
#: * ``user_ids``: primary keys of the users whose tokens were reported (app tokens have none);
#: * ``application_ids``: primary keys of the apps those tokens were issued to (notify their owners).
leaked_tokens_revoked = Signal()
