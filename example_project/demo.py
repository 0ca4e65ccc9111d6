"""The demo's fixed logins and clients, and the walkthrough both ``seed_demo`` and ``/`` show.

The credentials are fixed so that the landing page can show them (only while DEBUG is on)
and a newcomer can paste the walkthrough as printed. They are demo data for a server on
127.0.0.1, never for a deployment.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

STAFF_USERNAME = "admin"
STAFF_PASSWORD = "admin"
VIEWER_USERNAME = "viewer"
VIEWER_PASSWORD = "viewer"
# Demo users sign in with their name as password.
DEMO_USERS = ("alice", "bob", "carol")

# Public clients (no secret): a browser app using the authorization-code flow with PKCE, and
# a script using the password grant. Their tokens are refreshed with the client id alone.
WEB_CLIENT_ID = "demo-web"
SCRIPT_CLIENT_ID = "demo-script"
# A confidential API client of the end-user token API (HTTP basic auth).
PORTAL_CLIENT_ID = "demo-portal"
PORTAL_CLIENT_SECRET = "demo-portal-secret"

CALLBACK_PATH = "/callback"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

# Keeps the token pair of a token endpoint answer in $TOKEN and $REFRESH (bash and zsh; python3
# is there wherever `make demo` runs).
_KEEP = (
    'read TOKEN REFRESH <<< $(echo "$ANSWER" | python3 -c '
    '\'import json,sys; d=json.load(sys.stdin); print(d["access_token"], d["refresh_token"])\')'
)


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...] = ()
    note: str = ""


def token_exchange(base_url: str, code: str, verifier: str) -> str:
    """The curl that trades an authorization code (and its PKCE verifier) for a token pair."""
    return (
        f"curl -s {base_url}/o/token/ -d grant_type=authorization_code"
        f" -d client_id={WEB_CLIENT_ID} -d code={shlex.quote(code)}"
        f" -d redirect_uri={shlex.quote(base_url + CALLBACK_PATH)}"
        f" -d code_verifier={shlex.quote(verifier)} | python3 -m json.tool"
    )


def walkthrough(base_url: str, alice_id: int) -> list[Step]:
    """Get a token, call each API style, refresh, revoke in the admin, see the token refused."""
    call_adn = (
        f"curl -s -H \"Authorization: Bearer $TOKEN\" -H 'X-ADN-Pretty-JSON: 1' {base_url}/stream/0/token"
    )
    refresh = f"curl -s {base_url}/o/token/ -d grant_type=refresh_token -d client_id={SCRIPT_CLIENT_ID}"
    token_answer = 'echo "$ANSWER" | python3 -m json.tool'
    keep = _KEEP
    sessions = f"{base_url}/admin/token_admin/tokensession/?user={alice_id}&app={SCRIPT_CLIENT_ID}"
    return [
        Step(
            "Get a token for alice (password grant of the demo script client)",
            (
                f"ANSWER=$(curl -s {base_url}/o/token/ -d grant_type=password -d client_id={SCRIPT_CLIENT_ID}"
                " -d username=alice -d password=alice -d scope='basic stream')",
                token_answer,
                keep,
            ),
        ),
        Step(
            "Call each API style with it",
            (
                call_adn,
                f'curl -s "{base_url}/2.2/access-tokens/$TOKEN" | python3 -m json.tool',
                f"curl -s -u {PORTAL_CLIENT_ID}:{PORTAL_CLIENT_SECRET} "
                f"{base_url}/oauth/api/v1/users/{alice_id}/tokens | python3 -m json.tool",
            ),
        ),
        Step(
            "Refresh it (the old access token stops working, the session goes on)",
            (
                f'ANSWER=$({refresh} -d refresh_token="$REFRESH")',
                token_answer,
                keep,
            ),
        ),
        Step(
            "Revoke alice's session in the admin",
            note=(
                f"Open {sessions} (log in as {STAFF_USERNAME} / {STAFF_PASSWORD}), open the session at the "
                "top, press “Revoke…”, type a reason and confirm."
            ),
        ),
        Step(
            "See her token refused (401) and the refresh token too (invalid_grant)",
            (
                call_adn,
                f'{refresh} -d refresh_token="$REFRESH" | python3 -m json.tool',
            ),
        ),
    ]
