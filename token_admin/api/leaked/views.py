"""``POST credentials/revoke``: revoke leaked access and refresh tokens, whoever reports them.

The body is JSON, ``{"credentials": ["<token>", ...]}`` with at most
``LEAKED_TOKENS_MAX`` (1,000) values, never in the URL. Reporters need no account: a
secret scanner may send its key in ``X-Scanner-Key`` for a higher rate limit and its name
in the audit trail (``LEAKED_TOKENS_REQUIRE_KEY`` makes the key mandatory). Every accepted
report answers ``202`` with the number of values received and nothing about which existed.

Rate limits, all per ``LEAKED_TOKENS_RATE_LIMIT_PERIOD``: a report without a key, and any
request whose key check fails (a wrong key, or none where one is required), counts against
its IP (``LEAKED_TOKENS_RATE_LIMIT``) and gets ``429`` with ``Retry-After`` once the IP is
over it, so a wrong key is never answered ``401`` faster than the IP's limit allows and
guesses use up the IP's budget. A valid key counts against its own, higher limit
(``LEAKED_TOKENS_RATE_LIMIT_WITH_KEY``) and keeps working when its IP's budget is spent by
reports without a key: scanners share egress IPs with others. Wrong keys are also counted
on their own per IP, and once an IP has sent ``LEAKED_TOKENS_RATE_LIMIT`` of them in a
window every keyed request from it gets ``429`` too, a valid key included: otherwise the
answer to a guess (``202`` or ``429``) would tell a valid key from a wrong one at any rate.
So an IP tries at most ``LEAKED_TOKENS_RATE_LIMIT`` keys per window, and the price is that
someone sharing a scanner's IP can hold its reports off until the window ends.

Each value is looked up by DOT's checksum (hashed token storage works the same), among
access tokens and every refresh token still stored, rotated away (hence revoked) or not: a
leaked refresh token is usually an old one, and its session (its refresh-token family)
lives on in the token that replaced it. Everything found is revoked in one call of the
revocation service, whole sessions included: a fixed number of statements for 1 or 1,000
values. ``token_admin.signals.leaked_tokens_revoked`` then names the users and apps
affected, so a project can tell them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from token_admin import queries, ratelimit
from token_admin.conf import conf
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor, Selection, Surface, revoke
from token_admin.signals import leaked_tokens_revoked

logger = logging.getLogger(__name__)

# A token value longer than this is no token DOT issues; the report is refused.
MAX_VALUE_LENGTH = 1024


def error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"message": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class RevokeLeakedTokensView(View):
    http_method_names = ["post"]

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        return error(405, "Method not allowed: POST a JSON body.", Allow="POST")

    def post(self, request: HttpRequest) -> JsonResponse:
        key = request.headers.get("X-Scanner-Key", "")
        scanner = conf.LEAKED_TOKENS_SCANNER_KEYS.get(key) if key else None
        refused = refuse_before_reading(request.META.get("REMOTE_ADDR", ""), key, scanner)
        if refused is not None:
            return refused

        values, problem = parse_report(request)
        if problem is not None:
            logger.warning("Leaked-token report refused: %s", problem[1])
            return error(*problem)
        reporter = (
            f"scanner {scanner}" if scanner is not None else f"IP {request.META.get('REMOTE_ADDR', '')}"
        )
        revoke_leaked(values, reporter=reporter)
        return JsonResponse({"received": len(values)}, status=202)


def refuse_before_reading(address: str, key: str, scanner: str | None) -> JsonResponse | None:
    """The 401 or 429 a request gets before its body is read, or None (see the module docstring)."""
    period, per_ip = conf.LEAKED_TOKENS_RATE_LIMIT_PERIOD, conf.LEAKED_TOKENS_RATE_LIMIT
    if scanner is not None:
        guesses = ratelimit.peek("leaked-key-guesses", address, limit=per_ip, period=period)
        if guesses.used >= max(1, per_ip):  # this IP has tried all the keys it may
            return too_many(guesses)
        window = ratelimit.hit(
            "leaked", f"key:{key}", limit=conf.LEAKED_TOKENS_RATE_LIMIT_WITH_KEY, period=period
        )
        return too_many(window) if window.exceeded else None
    window = ratelimit.hit("leaked", f"ip:{address}", limit=per_ip, period=period)
    if key:
        ratelimit.hit("leaked-key-guesses", address, limit=per_ip, period=period)
    if window.exceeded:
        return too_many(window)
    if key:
        return error(401, "Unknown scanner key.")
    if conf.LEAKED_TOKENS_REQUIRE_KEY:
        return error(401, "A scanner key is required (X-Scanner-Key).")
    return None


def too_many(window: ratelimit.Window) -> JsonResponse:
    return error(429, "Too many reports.", **{"Retry-After": str(window.reset_in)})


def parse_report(request: HttpRequest) -> tuple[list[str], tuple[int, str] | None]:
    """The token values of a report, or (status, message) saying what is wrong with it."""
    if request.content_type != "application/json":
        return [], (415, "Send the report as application/json.")
    try:
        body = json.loads(request.body)
    except RequestDataTooBig:
        return [], (413, "The report is too large.")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        return [], (400, "The body is not JSON.")
    credentials = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(credentials, list) or not credentials:
        return [], (400, 'Send {"credentials": ["<token>", ...]} with at least one token.')
    if len(credentials) > conf.LEAKED_TOKENS_MAX:
        return [], (400, f"At most {conf.LEAKED_TOKENS_MAX} tokens per report.")
    if not all(_is_token_like(value) for value in credentials):
        return [], (400, f"Each token is a non-empty string of at most {MAX_VALUE_LENGTH} characters.")
    return list(dict.fromkeys(credentials)), None


def _is_token_like(value: Any) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE_LENGTH:
        return False
    try:
        value.encode("utf-8")  # JSON allows lone surrogates, which no token holds
    except UnicodeEncodeError:
        return False
    return True


def revoke_leaked(values: list[str], *, reporter: str) -> RevocationEvent | None:
    """Revoke every session a reported value belongs to: two reads, then one revocation."""
    checksums = sorted({hashlib.sha256(value.encode("utf-8")).hexdigest() for value in values})
    access_tokens = list(
        queries.with_family(get_access_token_model().objects.filter(token_checksum__in=checksums))
    )
    # Revoked ones too: a rotated-away token names its family, whose current token is live.
    refresh_tokens = list(
        get_refresh_token_model()
        .objects.filter(token_checksum__in=checksums)
        .values_list("token_family", "access_token_id", "user_id", "application_id")
    )
    registration = [token for token in access_tokens if queries.is_registration(token)]
    selection = Selection.tokens([token for token in access_tokens if token not in registration])
    selection = selection | Selection(
        families=frozenset(family for family, *_ in refresh_tokens if family is not None),
        # A refresh token from before DOT kept families goes with its access token.
        access_token_ids=frozenset(pk for family, pk, *_ in refresh_tokens if family is None and pk),
        # A leaked registration token would let anyone reconfigure its client.
        registration_client_ids=frozenset(token.application_id for token in registration),
    )
    if selection.is_empty():
        return None
    users = {token.user_id for token in access_tokens} | {row[2] for row in refresh_tokens}
    apps = {token.application_id for token in access_tokens} | {row[3] for row in refresh_tokens}
    result = revoke(
        selection.with_description(kind="leak_report", reported=len(values)),
        surface=Surface.LEAK_REPORT,
        actor=Actor.scanner(f"leaked-token report from {reporter}"),
        reason="Token reported as leaked",
        audit_empty=False,
    )
    if result.event is not None:
        event = result.event
        transaction.on_commit(
            lambda: leaked_tokens_revoked.send(
                sender=RevocationEvent,
                event=event,
                user_ids=sorted(users - {None}),
                application_ids=sorted(apps - {None}),
            )
        )
    return result.event
