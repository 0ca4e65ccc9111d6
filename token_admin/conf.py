"""token_admin's settings: each declared once, here, and read from ``settings.TOKEN_ADMIN`` each
time it is used.

A declaration (:class:`Setting`) holds the name, the default, the form the value must take and
the one line of documentation; from these come the attribute of ``conf`` (or ``events_conf``),
the system check (``token_admin.checks.check_settings``) and the README's settings reference
(:func:`settings_table`, which ``tests/test_settings_checks.py`` compares with the README).

Reading on use (as django-cors-headers does) means ``override_settings`` just works and nothing
is read at import time. A value of the wrong form is an error of the system check; at run time it
is read as it always was (``int()``, ``bool()``), except that a lone string where a list belongs
is read as a list of that one string, never as its letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

T = TypeVar("T")

#: Every setting by its key in ``TOKEN_ADMIN``, in the README's order.
SETTINGS: dict[str, Setting[Any]] = {}


def user_settings() -> Mapping[str, Any]:
    """``settings.TOKEN_ADMIN`` (``{}`` when absent): the one place both settings classes read."""
    value = getattr(settings, "TOKEN_ADMIN", {})
    if type(value) is not dict and not isinstance(value, Mapping):  # dict first: the ABC check is slow
        raise ImproperlyConfigured(f"TOKEN_ADMIN must be a dict, not {type(value).__name__}.")
    return value


def read(name: str) -> Any:
    """The raw value of one setting: the project's, or the declared default."""
    return user_settings().get(name, SETTINGS[name].default)


def _kind(value: Any) -> str:
    return type(value).__name__


# --- the forms a value may take ---------------------------------------------------------------


class Form(Generic[T]):
    """What a setting accepts. ``label`` is the README's type column; ``expected`` names the right
    form in the system check's hint; ``problem()`` says what is wrong with a value (None: nothing);
    ``convert()`` turns the value into what the code uses."""

    label = ""
    expected = ""

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError

    def hint(self, value: Any) -> str:
        return f"Give {self.expected}."

    def convert(self, value: Any) -> T:
        raise NotImplementedError


class Whole(Form[int]):
    """A whole number (not a bool, not a float, not a numeric string) of at least ``minimum``;
    ``clamp`` raises a smaller one to ``minimum`` when read (what the code always did)."""

    def __init__(self, minimum: int = 0, *, seconds: bool = False, clamp: bool = False) -> None:
        self.minimum, self.clamp = minimum, clamp
        self.label = "int (s)" if seconds else "int"
        unit = " of seconds" if seconds else ""
        self.expected = f"a whole number{unit} (an int) of at least {minimum}"

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"is {value!r} ({_kind(value)}), not a whole number"
        if value < self.minimum:
            return f"is {value}, below {self.minimum}"
        return None

    def hint(self, value: Any) -> str:
        # A number in a string (read from the environment, say): say what to write instead.
        try:
            number = int(float(value)) if isinstance(value, (str, float)) else None
        except ValueError:
            number = None
        if number is not None and number >= self.minimum:
            return f"Write {number}: {self.expected}."
        return super().hint(value)

    def convert(self, value: Any) -> int:
        number = int(value)
        return max(self.minimum, number) if self.clamp else number


class Seconds(Form[float]):
    """A number of seconds above 0: an int or a float."""

    label = "float (s)"
    expected = "a number of seconds above 0 (an int or a float), e.g. 10"

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"is {value!r} ({_kind(value)}), not a number"
        if not value > 0:  # also NaN
            return f"is {value!r}, not above 0"
        return None

    def convert(self, value: Any) -> float:
        return float(value)


class Flag(Form[bool]):
    label = "bool"
    expected = "True or False"

    def problem(self, value: Any) -> str | None:
        # "false" and 0 are not False here: bool("false") is True.
        return None if isinstance(value, bool) else f"is {value!r} ({_kind(value)}), not True or False"

    def convert(self, value: Any) -> bool:
        return bool(value)


class Text(Form[str]):
    """A non-empty string."""

    label = "str"
    expected = "a non-empty string"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"is {value!r} ({_kind(value)}), not a string"
        return None if value else "is empty"

    def convert(self, value: Any) -> str:
        return str(value)


class Issuer(Form[str]):
    """``""`` (not set) or an absolute http(s) URL without query or fragment (an OpenID issuer)."""

    label = "str (URL)"
    expected = 'your OpenID issuer: an https URL without query or fragment, e.g. "https://id.example.com"'

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"is {value!r} ({_kind(value)}), not a string"
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            return f"is {value!r}, not an http(s) URL without query or fragment"
        return None

    def convert(self, value: Any) -> str:
        return str(value)


class Names(Form[frozenset[str]]):
    """A list (tuple, set) of strings, each one of ``choices`` if given. A lone string is wrong:
    ``frozenset("password_change")`` is a set of letters. Read, it counts as a list of itself."""

    def __init__(self, what: str = "str", choices: tuple[str, ...] = ()) -> None:
        self.choices = choices
        self.label = f"list of {what}"
        among = f", each one of {', '.join(map(repr, choices))}" if choices else ""
        self.expected = f"a list of strings{among}"

    def problem(self, value: Any) -> str | None:
        if isinstance(value, str):
            return f"is the string {value!r}, not a list"
        if not isinstance(value, (list, tuple, set, frozenset)):
            return f"is {value!r} ({_kind(value)}), not a list"
        wrong = [item for item in value if not isinstance(item, str)]
        if wrong:
            return f"holds {wrong[0]!r} ({_kind(wrong[0])}), not a string"
        unknown = sorted(item for item in value if self.choices and item not in self.choices)
        if unknown:
            return f"holds {unknown[0]!r}, which is not one of {', '.join(map(repr, self.choices))}"
        return None

    def hint(self, value: Any) -> str:
        if isinstance(value, str):
            return f"Write [{value!r}]: {self.expected}."
        return super().hint(value)

    def convert(self, value: Any) -> frozenset[str]:
        return frozenset([value]) if isinstance(value, str) else frozenset(value)


class Labels(Form[dict[str, str]]):
    """A dict of non-empty strings to strings."""

    label = "dict"
    expected = 'a dict of strings to strings, e.g. {"s3cr3t-key": "GitHub secret scanning"}'

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f"is {value!r} ({_kind(value)}), not a dict"
        for key, label in value.items():
            if not isinstance(key, str) or not key:
                return f"has the key {key!r}, not a non-empty string"
            if not isinstance(label, str):
                return f"maps {key!r} to {label!r} ({_kind(label)}), not a string"
        return None

    def convert(self, value: Any) -> dict[str, str]:
        return dict(value)


class Hook(Form["Callable[..., Any] | None"]):
    """A callable, the dotted path of one, or None. Whether the path imports is E003's business."""

    label = "dotted path, callable or `None`"
    expected = 'the dotted path of a callable (e.g. "myproject.hooks.extra"), a callable, or None'

    def problem(self, value: Any) -> str | None:
        if value is None or callable(value) or isinstance(value, str):
            return None
        return f"is {value!r} ({_kind(value)}), not a dotted path or a callable"

    def convert(self, value: Any) -> Callable[..., Any] | None:
        if value is None or callable(value):
            return value
        return import_string(value)


class Site(Form[Any]):
    """An ``AdminSite``, the dotted path of one, or None."""

    label = "dotted path, `AdminSite` or `None`"
    expected = 'the dotted path of an AdminSite (e.g. "django.contrib.admin.site"), the site itself, or None'

    def problem(self, value: Any) -> str | None:
        from django.contrib.admin import AdminSite

        if value is None or isinstance(value, (str, AdminSite)):
            return None
        return f"is {value!r} ({_kind(value)}), not a dotted path or an AdminSite"

    def convert(self, value: Any) -> Any:
        return import_string(value) if isinstance(value, str) else value


class OrNone(Form["T | None"]):
    """None, or what ``form`` accepts."""

    def __init__(self, form: Form[T]) -> None:
        self.form = form
        self.label = f"{form.label} or `None`"
        self.expected = f"None or {form.expected}"

    def problem(self, value: Any) -> str | None:
        return None if value is None else self.form.problem(value)

    def hint(self, value: Any) -> str:
        return f"{self.form.hint(value)[:-1]}, or None."

    def convert(self, value: Any) -> T | None:
        return None if value is None else self.form.convert(value)


# --- declarations -----------------------------------------------------------------------------


class Setting(Generic[T]):
    """One setting, declared as a class attribute of a settings class: reading the attribute on
    an instance reads ``TOKEN_ADMIN[prefix + attribute name]`` (or the default) through ``form``."""

    name: str
    attribute: str

    def __init__(self, form: Form[T], default: Any, doc: str) -> None:
        self.form, self.default, self.doc = form, default, doc
        self.__doc__ = doc

    def __set_name__(self, owner: type[Reader], attribute: str) -> None:
        self.attribute, self.name = attribute, owner.prefix + attribute
        if self.name in SETTINGS:
            raise ImproperlyConfigured(f"token_admin declares the setting {self.name} twice.")
        SETTINGS[self.name] = self

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Setting[T]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> Setting[T] | T:
        if instance is None:
            return self
        return self.form.convert(read(self.name))

    def problem(self) -> str | None:
        """What is wrong with the project's value (None: nothing, or not set)."""
        return self.form.problem(read(self.name))

    def valid(self) -> bool:
        return self.problem() is None


class Reader:
    """Base of both settings classes: ``prefix`` + attribute name is the key in ``TOKEN_ADMIN``."""

    prefix = ""

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The callable a hook setting names (a dotted path or a callable), or None."""
        return Hook().convert(read(name))


ACCOUNT_EVENTS = ("password_change", "deactivation")


class Settings(Reader):
    CACHE_ALIAS = Setting(
        Text(),
        "default",
        "Django cache for quotas, rate limits and verified secrets; give it a socket timeout "
        "(while it is down or hung, limits fail open)",
    )
    ADN_USER_HOOK = Setting(
        Hook(),
        None,
        "`hook(user) -> dict`: keys for the App.net User object; they win over the built-in ones "
        "(`name`, say, for a user model without a full name); keep `id` as `str(user.pk)`, which "
        "`user_ids` lists",
    )
    ADN_TOKEN_HOOK = Setting(
        Hook(), None, "`hook(access_token) -> dict` with any of `limits`, `storage`, `invite_link`"
    )
    ADN_RATE_LIMIT = Setting(Whole(), 5000, "App.net-style requests per token per period")
    ADN_RATE_LIMIT_PERIOD = Setting(Whole(1, seconds=True), 3600, "App.net-style rate-limit window")
    SE_QUOTA_MAX = Setting(Whole(), 300, "Stack Exchange-style requests per IP per period")
    SE_QUOTA_MAX_WITH_KEY = Setting(Whole(), 10000, "Stack Exchange-style requests per `key` per period")
    SE_QUOTA_PERIOD = Setting(Whole(1, seconds=True), 86400, "Stack Exchange-style quota window")
    SE_KEYS = Setting(
        OrNone(Names()),
        None,
        "registered Stack Exchange-style `key` values; with a list, an unknown key is refused "
        '(`bad_parameter` "key") and counted against the IP, so made-up keys cannot escape the '
        "IP quota; `None` gives any key its own quota",
    )
    END_USER_SECRET_CACHE_SECONDS = Setting(
        Whole(seconds=True),
        300,
        "how long a verified API-client secret is remembered; `0` turns it off",
    )
    END_USER_AUTH_FAILURES_PER_CLIENT = Setting(
        Whole(),
        10,
        "failed end-user API authentications per client id (known or not) per period; past it, "
        "429 with `Retry-After` and no hash check (the right secret still gets in while its "
        "success is remembered); `0` turns it off",
    )
    END_USER_AUTH_FAILURES_PER_IP = Setting(
        Whole(),
        30,
        "failed end-user API authentications per client IP (`REMOTE_ADDR`) per period; past it, "
        "429; `0` turns it off",
    )
    END_USER_AUTH_FAILURE_PERIOD = Setting(
        Whole(1, seconds=True),
        300,
        "the failed-authentication window; `Retry-After` counts to its end",
    )
    END_USER_NOOP_REVOCATIONS_WARNING = Setting(
        Whole(),
        1000,
        "end-user `DELETE`s that revoke nothing, per API client per day, at which one WARNING is "
        "logged; they are counted in the cache and never written as audit rows; `0`: never warn",
    )
    SESSION_TYPE_HOOK = Setting(Hook(), None, "`hook(session) -> str`: the end-user API `type`")
    REVOKE_ON_ACCOUNT_EVENTS = Setting(
        Names(choices=ACCOUNT_EVENTS),
        ACCOUNT_EVENTS,
        'account events that revoke all of a user\'s tokens (see "Revocation policies"): '
        '`"password_change"` (a new password saved, by any path) and `"deactivation"` '
        "(`is_active` saved as False); `[]` turns them off. Deleting a user always revokes first",
    )
    PASSWORD_CHANGE_KEEPS_APPS = Setting(
        Names("client ids"),
        (),
        "apps whose sessions survive a password change (e.g. the first-party app it was changed in)",
    )
    LEAKED_TOKENS_MAX = Setting(Whole(1), 1000, "most token values in one leaked-token report")
    LEAKED_TOKENS_RATE_LIMIT = Setting(
        Whole(),
        60,
        "leaked-token reports per client IP per period, without a valid scanner key (wrong keys "
        "count too, and an IP may try this many keys)",
    )
    LEAKED_TOKENS_RATE_LIMIT_WITH_KEY = Setting(
        Whole(), 6000, "leaked-token reports per scanner key per period"
    )
    LEAKED_TOKENS_RATE_LIMIT_PERIOD = Setting(
        Whole(1, seconds=True), 3600, "the leaked-token rate-limit window"
    )
    LEAKED_TOKENS_SCANNER_KEYS = Setting(
        Labels(),
        {},
        "`{key: scanner name}`: a report with a registered key in `X-Scanner-Key` gets the keyed "
        "limit and is audited under that name; an unknown key is refused (401)",
    )
    LEAKED_TOKENS_REQUIRE_KEY = Setting(
        Flag(), False, "refuse reports without a registered scanner key (401)"
    )
    NOT_BEFORE_ENABLED = Setting(
        Flag(),
        True,
        "enforce not-before watermarks at authentication and refresh and show them in the session "
        "lists; off, setting one still revokes what it covers",
    )
    ACTIVITY_TRACKING = Setting(
        Flag(),
        True,
        "record each session's last use (time, IP, browser / OS / device family parsed by "
        "`ua-parser`) when one of its tokens authenticates through DOT (any DOT-protected view, "
        "DRF's `OAuth2Authentication`), or the App.net style (a refresh writes none: the new "
        "token's first use does)",
    )
    ACTIVITY_WINDOW_SECONDS = Setting(
        Whole(1, seconds=True, clamp=True),
        300,
        "at most one activity write per session per window, decided in the cache (`CACHE_ALIAS`) "
        "and remembered by each server process: a use within the window costs nothing on top of "
        "DOT's query (each process asks the cache once per token per window: a `cache.add`, and a "
        "`cache.get` when another process wrote first); a due one adds one UPDATE. "
        "`last_used_at` is exact to within the window",
    )
    TRUSTED_PROXY_COUNT = Setting(
        Whole(clamp=True),
        0,
        "reverse proxies in front of the site that append to `X-Forwarded-For`; `0` never reads "
        "that header (the IP is `REMOTE_ADDR`); with N, the Nth address from the right",
    )
    END_USER_ACTIVITY_FIELDS = Setting(
        Flag(),
        False,
        "end-user API: add `last_used_at` (ms since the epoch or `null`), `last_ip` (str or "
        '`null`) and `user_agent` (`{"browser", "os", "device"}` or `null`) to each entry of '
        "`tokens`; off, the contract's exact shape holds",
    )
    ADMIN_SITE = Setting(
        Site(),
        "django.contrib.admin.site",
        "the admin site token_admin registers its admins on (when Django's admin autodiscovers "
        "`token_admin.admin`); `None` registers nothing: call `token_admin.admin.register(site)` "
        "yourself",
    )
    UNUSED_SESSION_DAYS = Setting(
        OrNone(Whole(1)),
        None,
        "days without use after which `revoke_tokens --unused` (run it from cron) revokes a "
        "session; last use is `last_used_at`, or the session's start if never used; `None`: the "
        "policy is off",
    )
    MAX_SESSIONS_PER_USER_APP = Setting(
        OrNone(Whole(1)),
        None,
        "most live sessions one user may hold in one app; a sign-in beyond it revokes the oldest "
        "in the same request (GitHub's rule of thumb: 10); `None`: no cap",
    )
    REASON_REQUIRED = Setting(
        Flag(),
        True,
        "whether staff must give a reason to revoke: on the admin's confirmation page and in "
        "`revoke_tokens` (`--reason`); the APIs never ask for one (their audit events name the "
        "API and the caller)",
    )


class EventSettings(Reader):
    """The events package's settings (``EVENTS_*``), read as ``events_conf.ISSUER`` and so on."""

    prefix = "EVENTS_"

    ISSUER = Setting(
        Issuer(),
        "",
        "`iss` of Security Event Tokens and logout tokens: your OpenID issuer URL (DOT's "
        "`OIDC_ISS_ENDPOINT`); CAEP and back-channel logout receivers need it",
    )
    TIMEOUT_SECONDS = Setting(
        Seconds(), 10, "longest one delivery attempt takes, from connecting to the answer's status"
    )
    ALLOWED_PRIVATE_HOSTS = Setting(
        Names("host name or address"),
        (),
        "hosts receivers may reach although they are loopback, private, link-local or otherwise "
        "not public (deliveries refuse those); for development only (W009 outside `DEBUG`)",
    )
    RETRY_BASE_SECONDS = Setting(
        Seconds(),
        5,
        "first retry after 2.5-5 s; each later one waits twice as long (with jitter)",
    )
    RETRY_MAX_SECONDS = Setting(Seconds(), 3600, "longest wait between two attempts")
    DEADLINE_SECONDS = Setting(
        Seconds(),
        3 * 86400,
        "an event not delivered this long after its revocation is marked failed",
    )
    LEASE_SECONDS = Setting(
        Seconds(),
        300,
        "a claimed row is another worker's again after this long (a worker that died)",
    )
    BATCH_SIZE = Setting(Whole(1, clamp=True), 50, "rows one worker claims at a time")
    RETENTION_SECONDS = Setting(
        Seconds(),
        7 * 86400,
        "`prune_tokens` deletes delivered, skipped and failed rows older than this",
    )
    WEBHOOK_MAX_SESSIONS = Setting(
        Whole(1),
        1000,
        "most session ids one webhook body lists (`sessions_total` counts all)",
    )
    ON_COMMIT = Setting(
        Hook(),
        None,
        'called after a revocation that wrote events commits, e.g. `"token_admin.events.tasks.enqueue"`; '
        "an error is logged, never raised",
    )


conf = Settings()
events_conf = EventSettings()

#: Settings that name a callable by dotted path; the system check imports each one.
HOOK_SETTINGS = tuple(name for name, setting in SETTINGS.items() if isinstance(setting.form, Hook))


# --- the README's settings reference ----------------------------------------------------------


def render_default(value: Any) -> str:
    """A default as the README writes it (Python, with lists for tuples)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (tuple, list, frozenset)):
        return "[" + ", ".join(render_default(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_default(k)}: {render_default(v)}" for k, v in value.items()) + "}"
    return repr(value)


def settings_table() -> str:
    """The README's settings reference table, one row per declared setting."""
    rows = ["| setting | type | default | what it does |", "|---|---|---|---|"]
    for name, setting in SETTINGS.items():
        rows.append(
            f"| `{name}` | {setting.form.label} | `{render_default(setting.default)}` | {setting.doc} |"
        )
    return "\n".join(rows) + "\n"
