"""``TOKEN_ADMIN`` is checked as ``manage.py check`` runs it: unknown keys (E008), values of the
wrong form (E009), a TOKEN_ADMIN that is not a dict (E010), settings that do not go together
(W002, W004-W009); the README's settings table is the declarations' (``token_admin.conf``)."""

from __future__ import annotations

import math
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin import AdminSite
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.test_checks import REDIS
from token_admin import checks
from token_admin.conf import SETTINGS, conf, events_conf, settings_table
from token_admin.events.models import Receiver

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent / "README.md"
QUIET = "System check identified no issues (0 silenced).\n"

# Every setting at a valid value other than its default (the checks must pass all of them quietly).
VALID = {
    "CACHE_ALIAS": "default",
    "ADN_USER_HOOK": "tests.test_settings_checks.hook",
    "ADN_TOKEN_HOOK": lambda token: {},
    "ADN_RATE_LIMIT": 100,
    "ADN_RATE_LIMIT_PERIOD": 60,
    "SE_QUOTA_MAX": 0,
    "SE_QUOTA_MAX_WITH_KEY": 5,
    "SE_QUOTA_PERIOD": 3600,
    "SE_KEYS": ["mykey"],
    "END_USER_SECRET_CACHE_SECONDS": 0,
    "END_USER_AUTH_FAILURES_PER_CLIENT": 0,
    "END_USER_AUTH_FAILURES_PER_IP": 5,
    "END_USER_AUTH_FAILURE_PERIOD": 60,
    "END_USER_NOOP_REVOCATIONS_WARNING": 0,
    "SESSION_TYPE_HOOK": None,
    "REVOKE_ON_ACCOUNT_EVENTS": ["password_change"],
    "PASSWORD_CHANGE_KEEPS_APPS": ("web-app",),
    "LEAKED_TOKENS_MAX": 1,
    "LEAKED_TOKENS_RATE_LIMIT": 0,
    "LEAKED_TOKENS_RATE_LIMIT_WITH_KEY": 10,
    "LEAKED_TOKENS_RATE_LIMIT_PERIOD": 60,
    "LEAKED_TOKENS_SCANNER_KEYS": {"s3cr3t": "GitHub secret scanning"},
    "LEAKED_TOKENS_REQUIRE_KEY": True,
    "NOT_BEFORE_ENABLED": False,
    "ACTIVITY_TRACKING": True,
    "ACTIVITY_WINDOW_SECONDS": 1,
    "TRUSTED_PROXY_COUNT": 2,
    "END_USER_ACTIVITY_FIELDS": True,
    "ADMIN_SITE": AdminSite(name="other"),
    "UNUSED_SESSION_DAYS": 365,
    "MAX_SESSIONS_PER_USER_APP": 10,
    "REASON_REQUIRED": False,
    "EVENTS_ISSUER": "https://id.example.com",
    "EVENTS_TIMEOUT_SECONDS": 2.5,
    "EVENTS_RETRY_BASE_SECONDS": 1,
    "EVENTS_RETRY_MAX_SECONDS": 600.0,
    "EVENTS_DEADLINE_SECONDS": 86400,
    "EVENTS_LEASE_SECONDS": 60,
    "EVENTS_BATCH_SIZE": 1,
    "EVENTS_RETENTION_SECONDS": 86400,
    "EVENTS_WEBHOOK_MAX_SESSIONS": 1,
    "EVENTS_ON_COMMIT": "token_admin.events.tasks.enqueue",
    "EVENTS_ALLOWED_PRIVATE_HOSTS": ["receiver.internal"],
}


def hook(value):
    return {}


def check(**kwargs) -> str:
    """``manage.py check --tag token_admin``'s output, on a shared cache (so without W001, and
    only around the call: the tests' own cache stays); a SystemCheckError on errors."""
    out = StringIO()
    with override_settings(CACHES=REDIS):
        call_command("check", tag=[checks.TAG], stdout=out, stderr=out, **kwargs)
    return out.getvalue()


def errors(token_admin) -> str:
    with override_settings(TOKEN_ADMIN=token_admin), pytest.raises(SystemCheckError) as raised:
        check()
    return str(raised.value)


def message(id_: str, text: str, hint: str) -> str:
    """One message as ``manage.py check`` prints it."""
    return f"?: (token_admin.{id_}) {text}\n\tHINT: {hint}"


# --- the wrong values of issue #29 --------------------------------------------------------------


def test_a_string_for_revoke_on_account_events_is_an_error_not_a_set_of_letters():
    output = errors({"REVOKE_ON_ACCOUNT_EVENTS": "password_change"})
    assert (
        message(
            "E009",
            "TOKEN_ADMIN['REVOKE_ON_ACCOUNT_EVENTS'] is the string 'password_change', not a list.",
            "Write ['password_change']: a list of strings, each one of 'password_change', 'deactivation'.",
        )
        in output
    )
    assert "1 issue" in output


def test_a_string_for_se_keys_is_an_error():
    output = errors({"SE_KEYS": "mykey"})
    assert (
        message(
            "E009",
            "TOKEN_ADMIN['SE_KEYS'] is the string 'mykey', not a list.",
            "Write ['mykey']: a list of strings, or None.",
        )
        in output
    )


def test_a_misspelt_key_is_an_error_that_names_the_setting_meant():
    output = errors({"MAX_SESSION_PER_USER_APP": 10})
    assert (
        message(
            "E008",
            "TOKEN_ADMIN has the key 'MAX_SESSION_PER_USER_APP', which is not a token_admin setting.",
            "Did you mean 'MAX_SESSIONS_PER_USER_APP'?",
        )
        in output
    )


def test_an_unknown_key_like_no_setting_points_at_the_reference():
    output = errors({"COLOUR": "blue", "ISSUER": "https://id.example.com"})
    assert message(
        "E008",
        "TOKEN_ADMIN has the key 'COLOUR', which is not a token_admin setting.",
        "The settings are listed in the README's settings reference.",
    ) in (output)
    assert "HINT: Did you mean 'EVENTS_ISSUER'?" in output


def test_a_lone_string_is_read_as_a_list_of_itself_at_run_time(settings):
    settings.TOKEN_ADMIN = {"REVOKE_ON_ACCOUNT_EVENTS": "password_change", "SE_KEYS": "mykey"}
    events, keys = conf.REVOKE_ON_ACCOUNT_EVENTS, conf.SE_KEYS
    assert (events, keys) == (frozenset({"password_change"}), frozenset({"mykey"}))


def test_with_a_lone_string_a_password_change_still_revokes(settings):
    # The value the issue names turned revoke-on-password-change off: "password_change" was not
    # in {"p", "a", "s", ...}.
    from tests.concurrency import dot_accepts

    settings.TOKEN_ADMIN = {"REVOKE_ON_ACCOUNT_EVENTS": "password_change"}
    user = UserFactory()
    access, _ = issue_session(user, ApplicationFactory())
    user.set_password("new-password-1")
    user.save()
    assert not dot_accepts(access.raw_token)


def test_with_a_lone_string_for_se_keys_its_letters_are_not_keys(client, settings):
    from tests.factories import AccessTokenFactory
    from tests.helpers import url

    settings.TOKEN_ADMIN = {"SE_KEYS": "mykey"}
    token = AccessTokenFactory()
    letter = client.get(url(f"/2.2/access-tokens/{token.raw_token}"), {"key": "k"})
    assert letter.status_code == 400
    assert letter.json() == {"error_id": 400, "error_name": "bad_parameter", "error_message": "key"}
    keyed = client.get(url(f"/2.2/access-tokens/{token.raw_token}"), {"key": "mykey"})
    assert keyed.status_code == 200


# --- every form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "text", "hint"),
    [
        (
            "ACTIVITY_TRACKING",
            "false",
            "is 'false' (str), not True or False",
            "Give True or False.",
        ),
        ("REASON_REQUIRED", 0, "is 0 (int), not True or False", "Give True or False."),
        (
            "SE_QUOTA_MAX",
            "300",
            "is '300' (str), not a whole number",
            "Write 300: a whole number (an int) of at least 0.",
        ),
        (
            "ADN_RATE_LIMIT_PERIOD",
            0,
            "is 0, below 1",
            "Give a whole number of seconds (an int) of at least 1.",
        ),
        (
            "ADN_RATE_LIMIT",
            2.5,
            "is 2.5 (float), not a whole number",
            "Write 2: a whole number (an int) of at least 0.",
        ),
        (
            "TRUSTED_PROXY_COUNT",
            True,
            "is True (bool), not a whole number",
            "Give a whole number (an int) of at least 0.",
        ),
        (
            "MAX_SESSIONS_PER_USER_APP",
            0,
            "is 0, below 1",
            "Give a whole number (an int) of at least 1, or None.",
        ),
        (
            "UNUSED_SESSION_DAYS",
            "a year",
            "is 'a year' (str), not a whole number",
            "Give a whole number (an int) of at least 1, or None.",
        ),
        (
            "REVOKE_ON_ACCOUNT_EVENTS",
            ["password_change", "pasword_change"],
            "holds 'pasword_change', which is not one of 'password_change', 'deactivation'",
            "Give a list of strings, each one of 'password_change', 'deactivation'.",
        ),
        (
            "PASSWORD_CHANGE_KEEPS_APPS",
            [12],
            "holds 12 (int), not a string",
            "Give a list of strings.",
        ),
        ("PASSWORD_CHANGE_KEEPS_APPS", None, "is None (NoneType), not a list", "Give a list of strings."),
        (
            "LEAKED_TOKENS_SCANNER_KEYS",
            ["s3cr3t"],
            "is ['s3cr3t'] (list), not a dict",
            'Give a dict of strings to strings, e.g. {"s3cr3t-key": "GitHub secret scanning"}.',
        ),
        (
            "LEAKED_TOKENS_SCANNER_KEYS",
            {"s3cr3t": 1},
            "maps 's3cr3t' to 1 (int), not a string",
            'Give a dict of strings to strings, e.g. {"s3cr3t-key": "GitHub secret scanning"}.',
        ),
        ("CACHE_ALIAS", "", "is empty", "Give a non-empty string."),
        (
            "ADN_TOKEN_HOOK",
            5,
            "is 5 (int), not a dotted path or a callable",
            'Give the dotted path of a callable (e.g. "myproject.hooks.extra"), a callable, or None.',
        ),
        (
            "ADMIN_SITE",
            5,
            "is 5 (int), not a dotted path or an AdminSite",
            'Give the dotted path of an AdminSite (e.g. "django.contrib.admin.site"), '
            "the site itself, or None.",
        ),
        (
            "EVENTS_ISSUER",
            "id.example.com",
            "is 'id.example.com', not an http(s) URL without query or fragment",
            'Give your OpenID issuer: an https URL without query or fragment, e.g. "https://id.example.com".',
        ),
        (
            "EVENTS_TIMEOUT_SECONDS",
            0,
            "is 0, not above 0",
            "Give a number of seconds above 0 (an int or a float), e.g. 10.",
        ),
        (
            "EVENTS_LEASE_SECONDS",
            math.nan,
            "is nan, not above 0",
            "Give a number of seconds above 0 (an int or a float), e.g. 10.",
        ),
        (
            "EVENTS_DEADLINE_SECONDS",
            "3 days",
            "is '3 days' (str), not a number",
            "Give a number of seconds above 0 (an int or a float), e.g. 10.",
        ),
        ("EVENTS_BATCH_SIZE", 0, "is 0, below 1", "Give a whole number (an int) of at least 1."),
    ],
)
def test_a_value_of_the_wrong_form_is_an_error_whose_hint_gives_the_right_one(name, value, text, hint):
    output = errors({name: value})
    assert message("E009", f"TOKEN_ADMIN['{name}'] {text}.", hint) in output
    assert "1 issue" in output


def test_each_wrong_value_is_its_own_error():
    output = errors({"SE_KEYS": "mykey", "ACTIVITY_TRACKING": "no", "MAX_SESSION_PER_USER_APP": 10})
    assert output.count("(token_admin.E009)") == 2
    assert output.count("(token_admin.E008)") == 1
    assert "3 issues" in output


def test_a_token_admin_that_is_not_a_dict_is_one_error_and_reading_it_raises(settings):
    output = errors(["CACHE_ALIAS", "default"])
    assert (
        message(
            "E010",
            "TOKEN_ADMIN is list, not a dict.",
            'Write TOKEN_ADMIN = {"SETTING": value, ...}, or leave it out.',
        )
        in output
    )
    assert "1 issue" in output
    settings.TOKEN_ADMIN = ["CACHE_ALIAS", "default"]
    with pytest.raises(ImproperlyConfigured, match="TOKEN_ADMIN must be a dict, not list."):
        conf.CACHE_ALIAS  # noqa: B018


def test_a_hook_of_the_wrong_form_is_only_e009_and_events_on_commit_is_imported_too():
    output = errors(
        {"ADN_USER_HOOK": 5, "EVENTS_ON_COMMIT": "nowhere.enqueue", "EVENTS_ISSUER": "https://id.example.com"}
    )
    assert "(token_admin.E009) TOKEN_ADMIN['ADN_USER_HOOK'] is 5 (int)" in output
    assert (
        "(token_admin.E003) TOKEN_ADMIN['EVENTS_ON_COMMIT'] does not import: No module named 'nowhere'"
        in output
    )
    assert "2 issues" in output


# --- right values -------------------------------------------------------------------------------


def test_the_valid_examples_cover_every_setting():
    assert set(VALID) == set(SETTINGS)


def test_every_setting_at_a_valid_value_passes_quietly():
    # Allowed private hosts warn outside DEBUG (W009, tested below): a development setting.
    with override_settings(TOKEN_ADMIN=VALID, DEBUG=True):
        assert check() == QUIET
    with override_settings(TOKEN_ADMIN={}):
        assert check() == QUIET


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_default_is_of_its_own_form(name):
    setting = SETTINGS[name]
    assert setting.form.problem(setting.default) is None


@override_settings(TOKEN_ADMIN={})
def test_the_defaults_read_as_the_code_uses_them():
    events, kept = conf.REVOKE_ON_ACCOUNT_EVENTS, conf.PASSWORD_CHANGE_KEEPS_APPS
    assert (events, kept) == (frozenset({"password_change", "deactivation"}), frozenset())
    assert conf.SE_KEYS is None
    assert conf.LEAKED_TOKENS_SCANNER_KEYS == {}
    assert (conf.ADN_RATE_LIMIT, conf.ACTIVITY_WINDOW_SECONDS, conf.UNUSED_SESSION_DAYS) == (5000, 300, None)
    assert conf.ADMIN_SITE.name == "admin"
    assert (events_conf.ISSUER, events_conf.TIMEOUT_SECONDS, events_conf.BATCH_SIZE) == ("", 10.0, 50)
    assert events_conf.ON_COMMIT is None


def test_the_values_read_as_before(settings):
    settings.TOKEN_ADMIN = {
        "ACTIVITY_WINDOW_SECONDS": 0,  # clamped to 1, as always
        "EVENTS_BATCH_SIZE": -3,
        "EVENTS_ON_COMMIT": "token_admin.events.tasks.enqueue",
        "ADN_TOKEN_HOOK": hook,
    }
    from token_admin.events.tasks import enqueue

    assert (conf.ACTIVITY_WINDOW_SECONDS, events_conf.BATCH_SIZE) == (1, 1)
    assert events_conf.ON_COMMIT is enqueue
    assert conf.ADN_TOKEN_HOOK is hook


# --- settings that must go together ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token_admin", "expected", "fixed"),
    [
        (
            {"EVENTS_ON_COMMIT": "token_admin.events.tasks.enqueue"},
            message(
                "W004",
                "TOKEN_ADMIN['EVENTS_ON_COMMIT'] is set (events are in use) but EVENTS_ISSUER is not: CAEP "
                'and back-channel logout receivers get tokens with iss "", which they refuse.',
                'Set EVENTS_ISSUER to your OpenID issuer URL, e.g. "https://id.example.com".',
            ),
            {"EVENTS_ISSUER": "https://id.example.com"},
        ),
        (
            {"UNUSED_SESSION_DAYS": 365, "ACTIVITY_TRACKING": False},
            message(
                "W002",
                "TOKEN_ADMIN['UNUSED_SESSION_DAYS'] is set but ACTIVITY_TRACKING is off: no session has a "
                "last use, so `revoke_tokens --unused` refuses to run.",
                "Turn ACTIVITY_TRACKING on, or leave UNUSED_SESSION_DAYS out.",
            ),
            {"ACTIVITY_TRACKING": True},
        ),
        (
            {"LEAKED_TOKENS_REQUIRE_KEY": True},
            message(
                "W006",
                "TOKEN_ADMIN['LEAKED_TOKENS_REQUIRE_KEY'] is on but LEAKED_TOKENS_SCANNER_KEYS is empty: "
                "every leaked-token report is refused (401).",
                'Register scanner keys ({"key": "scanner name"}), or turn LEAKED_TOKENS_REQUIRE_KEY off.',
            ),
            {"LEAKED_TOKENS_SCANNER_KEYS": {"s3cr3t": "scanner"}},
        ),
        (
            {"PASSWORD_CHANGE_KEEPS_APPS": ["web"], "REVOKE_ON_ACCOUNT_EVENTS": ["deactivation"]},
            message(
                "W007",
                "TOKEN_ADMIN['PASSWORD_CHANGE_KEEPS_APPS'] is set but REVOKE_ON_ACCOUNT_EVENTS has no "
                '"password_change": a password change revokes nothing, so there is nothing to keep.',
                'Add "password_change" to REVOKE_ON_ACCOUNT_EVENTS, or leave PASSWORD_CHANGE_KEEPS_APPS out.',
            ),
            {"REVOKE_ON_ACCOUNT_EVENTS": ["deactivation", "password_change"]},
        ),
    ],
)
def test_settings_that_do_not_go_together_warn(token_admin, expected, fixed):
    with override_settings(TOKEN_ADMIN=token_admin):
        output = check()
    assert expected in output
    assert "1 issue" in output
    with override_settings(TOKEN_ADMIN={**token_admin, **fixed}):
        assert check() == QUIET


def test_an_events_issuer_other_than_dots_oidc_issuer_warns(settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ENABLED": True,
        "OIDC_ISS_ENDPOINT": "https://op.test",
    }
    with override_settings(TOKEN_ADMIN={"EVENTS_ISSUER": "https://id.example.com"}):
        output = check()
    assert (
        message(
            "W008",
            "TOKEN_ADMIN['EVENTS_ISSUER'] is 'https://id.example.com' but DOT's OIDC issuer "
            "(OAUTH2_PROVIDER['OIDC_ISS_ENDPOINT']) is 'https://op.test': relying parties refuse logout "
            "tokens from an issuer other than the one that signed them in.",
            "Set EVENTS_ISSUER to 'https://op.test'.",
        )
        in output
    )
    with override_settings(TOKEN_ADMIN={"EVENTS_ISSUER": "https://op.test"}):
        assert check() == QUIET


def test_allowed_private_hosts_warn_outside_debug():
    allowed = {"EVENTS_ALLOWED_PRIVATE_HOSTS": ["localhost", "10.0.0.5"]}
    with override_settings(TOKEN_ADMIN=allowed, DEBUG=False):
        output = check()
    assert (
        message(
            "W009",
            "TOKEN_ADMIN['EVENTS_ALLOWED_PRIVATE_HOSTS'] lets event receivers reach 10.0.0.5, localhost "
            "although DEBUG is off: a receiver URL naming them can make this server POST to its own network.",
            "Leave EVENTS_ALLOWED_PRIVATE_HOSTS out in production; give receivers public addresses.",
        )
        in output
    )
    assert "1 issue" in output
    with override_settings(TOKEN_ADMIN=allowed, DEBUG=True):
        assert check() == QUIET
    with override_settings(TOKEN_ADMIN={"EVENTS_ALLOWED_PRIVATE_HOSTS": []}, DEBUG=False):
        assert check() == QUIET


def database_check() -> str:
    """``manage.py check --database default``'s output (every check, the database ones too)."""
    out = StringIO()
    with override_settings(CACHES=REDIS):
        call_command("check", databases=["default"], stdout=out, stderr=out)
    return out.getvalue()


@override_settings(TOKEN_ADMIN={})
def test_jwt_receivers_without_an_issuer_warn_when_the_check_is_given_the_database():
    Receiver.objects.create(name="webhook", url="https://rs.test/hook")
    Receiver.objects.create(name="paused", url="https://rs.test/caep", format="caep", active=False)
    assert "token_admin.W005" not in database_check()

    Receiver.objects.create(name="caep", url="https://rs.test/caep", format="caep")
    output = database_check()
    assert (
        message(
            "W005",
            "1 active event receiver(s) in the database 'default' get Security Event Tokens or logout "
            "tokens, but TOKEN_ADMIN['EVENTS_ISSUER'] is not set: they are sent with iss \"\", which the "
            "receivers refuse.",
            'Set EVENTS_ISSUER to your OpenID issuer URL, e.g. "https://id.example.com".',
        )
        in output
    )
    # Without a database (runserver, a plain check, `check --tag token_admin`, on every Django
    # version) the database is not read.
    assert check() == QUIET
    with override_settings(TOKEN_ADMIN={"EVENTS_ISSUER": "https://id.example.com"}):
        assert "token_admin.W005" not in database_check()


def test_the_example_projects_settings_are_quiet_with_a_jwt_receiver():
    from example_project import settings as example

    Receiver.objects.create(name="caep", url="https://rs.test/caep", format="caep")
    assert example.TOKEN_ADMIN["EVENTS_ISSUER"]
    with override_settings(TOKEN_ADMIN=example.TOKEN_ADMIN):
        assert check(databases=["default"]) == QUIET


# --- the README ---------------------------------------------------------------------------------


def readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("| setting | type | default | what it does |\n")
    return text[start : text.index("\n\n", start) + 1]


def test_the_readme_lists_every_setting_with_its_declared_type_and_default():
    rows = [line.split(" | ") for line in readme_table().splitlines()[2:]]
    assert [row[0].strip("| `") for row in rows] == list(SETTINGS)
    # Then the whole table, word for word: `python scripts/settings_table.py --write` renews it.
    assert readme_table() == settings_table()
