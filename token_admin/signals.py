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
#: A call that found nothing left to revoke still sends it, with zero counts.
tokens_revoked = Signal()
