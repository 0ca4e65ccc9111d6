"""The wheel smoke test's client: what a browser and API clients see from a running server.

Usage: ``python probe.py BASE_URL SEED_JSON`` (seed.py's line). Standard library only. Each
check prints PASS or FAIL with what it saw; the exit status is the number of failures (capped).
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

base, seed = sys.argv[1].rstrip("/"), json.loads(sys.argv[2])
api_client = seed["api_client"]
failures = 0
cookies = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))


def call(method, path, headers=None, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def check(name, condition, seen):
    global failures
    print(
        f"{'PASS' if condition else 'FAIL'}  {name}" + ("" if condition else f"\n      saw: {seen!r}"[:600])
    )
    failures += 0 if condition else 1


def as_json(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


bearer = {"Authorization": f"Bearer {seed['user_token']}"}
basic = {
    "Authorization": "Basic "
    + base64.b64encode(f"{api_client['client_id']}:{api_client['client_secret']}".encode()).decode()
}

# --- the admin, as the superuser signs in with a browser
status, _, page = call("GET", "/admin/login/")
csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
check("GET /admin/login/ is the login form", status == 200 and csrf, status)
status, _, page = call(
    "POST",
    "/admin/login/?next=/admin/",
    data={
        "csrfmiddlewaretoken": csrf.group(1) if csrf else "",
        "username": "admin",
        "password": seed["admin_password"],
        "next": "/admin/",
    },
)
check(
    "sign-in leads to the admin index (200)",
    status == 200 and "Site administration" in page,
    (status, page[:200]),
)
for link in (
    "/admin/oauth2_provider/accesstoken/",
    "/admin/token_admin/tokensession/",
    "/admin/token_admin/revocationevent/",
):
    check(f"the admin index links {link}", f'href="{link}"' in page, "link missing")
status, _, page = call("GET", "/admin/oauth2_provider/accesstoken/")
check("access-token changelist: 200, alice's token listed", status == 200 and "alice" in page, status)
status, _, page = call("GET", "/admin/token_admin/tokensession/")
check("session changelist: 200, alice's session listed", status == 200 and "alice" in page, status)

# --- App.net style: GET token with the bearer token
status, headers, body = call("GET", "/stream/0/token", bearer)
data = (as_json(body) or {}).get("data", {})
check("GET /stream/0/token (Bearer): 200", status == 200, (status, body))
check("  data has app, client_id, scopes, user", {"app", "client_id", "scopes", "user"} <= set(data), body)
check(
    "  user is alice, scopes read+write, meta.code 200",
    data.get("user", {}).get("username") == "alice"
    and sorted(data.get("scopes", [])) == ["read", "write"]
    and (as_json(body) or {}).get("meta") == {"code": 200},
    body,
)
check("  Cache-Control: no-store", "no-store" in headers.get("Cache-Control", ""), headers)

# --- Stack Exchange style: the token's properties
status, _, body = call("GET", f"/2.2/access-tokens/{seed['user_token']}")
items = (as_json(body) or {}).get("items")
check(
    "GET /2.2/access-tokens/{token}: 200 with the token",
    status == 200
    and items
    and items[0].get("access_token") == seed["user_token"]
    and str(items[0].get("account_id")) == seed["user_id"],
    (status, body),
)

# --- end-user token API: an API client made by `manage.py create_api_client` lists alice's sessions
status, _, body = call("GET", f"/oauth/api/v1/users/{seed['user_id']}/tokens", basic)
tokens = (as_json(body) or {}).get("tokens")
check(
    "GET /oauth/api/v1/users/{id}/tokens (Basic): 200, one session of Smoke Web App",
    status == 200 and tokens and len(tokens) == 1 and tokens[0].get("client_name") == "Smoke Web App",
    (status, body),
)

# --- DOT's token endpoint through token_admin.oauth_urls: a client-credentials app token
status, _, body = call(
    "POST",
    "/o/token/",
    data={
        "grant_type": "client_credentials",
        "client_id": seed["service_client_id"],
        "client_secret": seed["service_client_secret"],
    },
)
app_token = (as_json(body) or {}).get("access_token")
check(
    "POST /o/token/ client_credentials: 200 with an access token", status == 200 and app_token, (status, body)
)
app_bearer = {"Authorization": f"Bearer {app_token}"}
status, _, body = call("GET", "/stream/0/token", app_bearer)
check(
    "GET /stream/0/token with the app token: 200, no user",
    status == 200 and "user" not in (as_json(body) or {}).get("data", {"user": 1}),
    (status, body),
)

# --- revocation: App.net DELETE token, then RFC 7009 for the app token
status, _, body = call("DELETE", "/stream/0/token", bearer)
check("DELETE /stream/0/token: 200", status == 200, (status, body))
status, _, body = call("GET", "/stream/0/token", bearer)
check(
    "the revoked token: GET /stream/0/token is 401 invalid-token",
    status == 401 and (as_json(body) or {}).get("meta", {}).get("error_slug") == "invalid-token",
    (status, body),
)
status, _, body = call("GET", f"/2.2/access-tokens/{seed['user_token']}")
check(
    "the revoked token: Stack Exchange leaves it out of items",
    status == 200 and (as_json(body) or {}).get("items") == [],
    (status, body),
)
status, _, body = call(
    "POST",
    "/o/revoke_token/",
    data={
        "token": app_token or "",
        "client_id": seed["service_client_id"],
        "client_secret": seed["service_client_secret"],
    },
)
check("POST /o/revoke_token/ (RFC 7009): 200", status == 200, (status, body))
status, _, body = call("GET", "/stream/0/token", app_bearer)
check("the revoked app token: 401", status == 401, (status, body))

# --- the admin's audit trail shows both revocations
status, _, page = call("GET", "/admin/token_admin/revocationevent/")
check(
    "audit trail changelist: 200, 2 revocation events",
    status == 200 and re.search(r"\b2 revocation events\b", page),
    (status, re.findall(r"\d+ revocation events?", page)),
)

print(f"\n{failures} of the checks failed" if failures else "\nevery check passed")
sys.exit(min(failures, 100))
