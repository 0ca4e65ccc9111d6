"""Helpers shared by test modules."""

from __future__ import annotations

import re
from typing import Any


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


def asked(selection: dict[str, Any]) -> dict[str, Any]:
    """An event's selection as the caller asked for it, without ``affected`` (whose tokens
    went, recorded by the revocation; asserted on its own in test_audit.py)."""
    return {key: value for key, value in selection.items() if key != "affected"}
