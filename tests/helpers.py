"""Helpers shared by test modules."""

from __future__ import annotations

import base64
import re
import sqlite3
from contextlib import closing
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import quote


def signed_selection(page: Any) -> str:
    """The signed selection an admin confirmation page carries ("" if the page has none)."""
    found = re.search(r'name="selection" value="([^"]*)"', page.content.decode())
    return found.group(1) if found else ""


def confirm_admin_action(client: Any, changelist: str, payload: dict[str, Any], **kwargs: Any) -> Any:
    """Post a revoking admin action as a browser does: the confirmation page first, then the
    confirming post with the selection that page signed (and ``payload``'s reason)."""
    preview = {key: value for key, value in payload.items() if key not in ("post", "reason")}
    page = client.post(changelist, preview)
    return client.post(changelist, {**payload, "selection": signed_selection(page)}, **kwargs)


def url(path: str) -> str:
    """``path`` (as the contract mounts it: ``/stream/0/token``) where the test URLconf mounts it:
    under ``/api/v2`` in the host configuration (``tests.urls_host.PREFIX``)."""
    from django.conf import settings

    return getattr(import_module(settings.ROOT_URLCONF), "PREFIX", "") + path


def changelist_url(model: Any) -> str:
    """The admin changelist of ``model``, by its ``_meta`` (DOT's models may be swapped)."""
    from django.urls import reverse

    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def json_id(pk: Any) -> Any:
    """A primary key as token_admin writes it into JSON (audit selections, signed selections,
    events): an integer stays a number, anything else (a UUID user key) is its string."""
    return pk if isinstance(pk, int) else str(pk)


def translated(message: str) -> str:
    """``message`` (Django's or DRF's own) in the project's language: German in the host
    configuration, as the pages and APIs show it there."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(message)


def method_not_allowed(method: str) -> str:
    """DRF's 405 message, in the project's language."""
    return translated('Method "{method}" not allowed.').format(method=method.upper())


def asked(selection: dict[str, Any]) -> dict[str, Any]:
    """An event's selection as the caller asked for it, without ``affected`` (whose tokens
    went, recorded by the revocation; asserted on its own in test_audit.py)."""
    return {key: value for key, value in selection.items() if key != "affected"}


def subprocess_database_url(tmp_path: Path) -> str:
    """A DATABASE_URL through which another process sees the test database's schema.

    PostgreSQL and MariaDB: the test database itself. SQLite's test database lives in this
    process's memory: it is copied (schema and committed rows) into a file under ``tmp_path``.
    """
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        copy = tmp_path / "copy.sqlite3"
        connection.ensure_connection()
        with closing(sqlite3.connect(copy)) as target:
            connection.connection.backup(target)
        return f"sqlite:///{copy}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[connection.vendor]
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"{scheme}://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def bearer(token: Any) -> dict[str, str]:
    """Test-client headers that present ``token`` (a token from the factories, or a raw value)."""
    raw = token if isinstance(token, str) else token.raw_token
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def basic_header(client: Any, secret: str | None = None) -> str:
    """An HTTP Basic ``Authorization`` value with client credentials.

    ``client``: an application (its ``raw_secret`` unless ``secret`` is given), a client id
    with ``secret``, or the bytes to encode as they are (to send malformed credentials).
    """
    if isinstance(client, bytes):
        credentials = client
    else:
        client_id = client if isinstance(client, str) else client.client_id
        credentials = f"{client_id}:{client.raw_secret if secret is None else secret}".encode()
    return "Basic " + base64.b64encode(credentials).decode()


def basic(client: Any, secret: str | None = None) -> dict[str, str]:
    """Test-client headers with HTTP Basic client credentials (``basic_header``'s arguments)."""
    return {"HTTP_AUTHORIZATION": basic_header(client, secret)}


def assert_end_user_contract_headers(response: Any) -> None:
    """The headers every end-user token API answer carries (Onegini's contract)."""
    assert response["Content-Type"] == "application/json;charset=UTF-8"
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def watermarks_set() -> Any:
    """The not-before watermarks set: the global row the migration creates at the epoch is none."""
    from token_admin.models import NotBefore
    from token_admin.watermarks import EPOCH

    return NotBefore.objects.exclude(not_before=EPOCH)
