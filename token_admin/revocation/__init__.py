"""THE one place tokens are revoked: a ``Selection`` (a value) and ``revoke()``.

Every surface (the three APIs, the admin, the commands, DOT's own revoking views, the
deletion of a user or app) builds a ``Selection`` with one of its named constructors and
hands it to ``revoke()``. Each call is:

* **keyed on sessions and owners**: a selection names refresh-token families, lone tokens,
  users, (user, app) pairs, apps and devices. Access-token ids change at every refresh, so
  tokens named one by one are turned into their sessions when the selection is built;
* **complete after every wait**: ``revoke()`` locks the live refresh tokens of the selection
  and locks them again until a plain read finds none it did not lock, so a pair minted by a
  refresh that committed while the revocation waited for its lock is revoked too (under READ
  COMMITTED a statement that waited keeps its older snapshot; the next statement sees the
  new rows);
* **set-based**: a fixed number of SQL statements whatever the number of tokens;
* **atomic**: all of it or none of it;
* **idempotent**: revoking what is already revoked changes nothing and does not fail;
* **audited and signalled**: one ``RevocationEvent`` per call, and ``tokens_revoked``
  after the transaction commits.

Access tokens are deleted (as DOT's ``AccessToken.revoke()`` does); refresh tokens are kept,
marked ``revoked``, because DOT's reuse protection relies on that record.

The package: ``actors`` (who asked, and the surface), ``selection`` (what, as a value),
``service`` (``revoke()``: the transaction, the audit event, the signal, the deadlock retry, the
dry run), ``writes`` (the locking loop and the set-based writes) and ``affected`` (whose tokens
go, for the audit event). Import from the package: ``from token_admin.revocation import revoke,
Selection, Actor, Surface``.
"""

from __future__ import annotations

from token_admin.revocation.actors import Actor, ActorType, Surface, app_label, token_label
from token_admin.revocation.affected import AFFECTED_MAX, ID_CHUNK_SIZE
from token_admin.revocation.selection import Selection, user_pair_filter
from token_admin.revocation.service import DEADLOCK_ATTEMPTS, Revocation, revoke
from token_admin.revocation.writes import MAX_LOCKING_READS

__all__ = [
    "AFFECTED_MAX",
    "DEADLOCK_ATTEMPTS",
    "ID_CHUNK_SIZE",
    "MAX_LOCKING_READS",
    "Actor",
    "ActorType",
    "Revocation",
    "Selection",
    "Surface",
    "app_label",
    "revoke",
    "token_label",
    "user_pair_filter",
]
