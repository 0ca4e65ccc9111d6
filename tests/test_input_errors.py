"""Oversized and malformed input gets a 4xx in each surface's own way, never a 500.

The three API styles answer Django's ``TooManyFieldsSent`` and ``RequestDataTooBig`` in their own
format, with one WARNING line and no traceback; the docs page answers OPTIONS; the admin's filters
refuse what they cannot parse with the admin's ``?e=1``; ``revoke_tokens`` prints its CommandError.
Every response of the three styles carries ``Cache-Control: no-store`` and ``Pragma: no-cache``.
"""

from __future__ import annotations

import json
import logging
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_access_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    AppProfileFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import basic_header, changelist_url, url
from token_admin.models import Device, RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
MANY = "&".join(f"p{n}=1" for n in range(1001))  # Django's limit is 1,000 fields
TOO_MANY = "Too many parameters or form fields."
TOO_BIG = "Request body too large."


@pytest.fixture
def small_uploads(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000


@pytest.fixture
def bearer(db):
    token = AccessTokenFactory(user=UserFactory(), application=AppProfileFactory().application)
    return f"Bearer {token.raw_token}"


@pytest.fixture
def basic_auth(db):
    return basic_header(ApplicationFactory(api_client=True))


def warnings_logged(caplog) -> list[logging.LogRecord]:
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert all(record.levelno == logging.WARNING and record.exc_info is None for record in records), records
    return records


def assert_no_cache(response) -> None:
    assert "no-store" in response["Cache-Control"]
    assert response["Pragma"] == "no-cache"


# --- App.net ----------------------------------------------------------------------------------


def adn_error(status: int, message: str, slug: str) -> dict:
    return {"meta": {"code": status, "error_message": message, "error_slug": slug}}


def test_adn_answers_1001_query_parameters_with_its_400(client, bearer, caplog):
    response = client.get(url(f"/stream/0/token?{MANY}"), HTTP_AUTHORIZATION=bearer)

    assert response.status_code == 400
    assert json.loads(response.content) == adn_error(400, TOO_MANY, "bad-request")
    assert_no_cache(response)
    assert len(warnings_logged(caplog)) == 1


def test_adn_answers_1001_form_fields_with_its_400(client, caplog):
    # No Authorization header: the token is looked for in the form, which cannot be parsed.
    response = client.post(url("/stream/0/token"), MANY, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert json.loads(response.content) == adn_error(400, TOO_MANY, "bad-request")
    assert len(warnings_logged(caplog)) == 1


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_adn_answers_a_body_over_the_limit_with_its_413(client, small_uploads, caplog, content_type):
    response = client.post(url("/stream/0/token"), "a=" + "x" * 2000, content_type=content_type)

    assert response.status_code == 413
    assert json.loads(response.content) == adn_error(413, TOO_BIG, "request-too-large")
    assert_no_cache(response)
    assert len(warnings_logged(caplog)) == 1


def test_adn_success_and_errors_are_never_cached(client, bearer):
    for response in (
        client.get(url("/stream/0/token"), HTTP_AUTHORIZATION=bearer),
        client.get(url("/stream/0/token")),
    ):
        assert response["Cache-Control"] == "no-store"
        assert response["Pragma"] == "no-cache"


# --- Stack Exchange ---------------------------------------------------------------------------


def test_se_answers_1001_parameters_with_its_error_wrapper(client, caplog):
    response = client.get(url(f"/2.2/access-tokens/abc?{MANY}"))

    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error_id": 400,
        "error_name": "bad_parameter",
        "error_message": TOO_MANY,
    }
    assert_no_cache(response)
    assert len(warnings_logged(caplog)) == 1


def test_se_answers_a_body_over_the_limit_with_its_error_wrapper(client, small_uploads, caplog):
    response = client.generic("GET", url("/2.2/access-tokens/abc"), "x" * 2000, content_type="text/plain")

    assert response.status_code == 400
    assert json.loads(response.content)["error_message"] == TOO_BIG
    assert len(warnings_logged(caplog)) == 1


# --- end-user API -----------------------------------------------------------------------------


def test_end_user_answers_1001_parameters_in_its_format(client, basic_auth, caplog):
    response = client.get(url(f"/oauth/api/v1/users/1/tokens?{MANY}"), HTTP_AUTHORIZATION=basic_auth)

    assert response.status_code == 400
    assert json.loads(response.content) == {"code": "bad_request", "message": TOO_MANY}
    assert response["Content-Type"] == "application/json;charset=UTF-8"
    assert_no_cache(response)
    assert len(warnings_logged(caplog)) == 1


def test_end_user_answers_a_body_over_the_limit_in_its_format(client, basic_auth, small_uploads, caplog):
    response = client.delete(
        url("/oauth/api/v1/users/1/tokens/7d507b7e-6221-4f06-a75e-ef6e6f06d32b"),
        "x" * 2000,
        content_type="text/plain",
        HTTP_AUTHORIZATION=basic_auth,
    )

    assert response.status_code == 413
    assert json.loads(response.content) == {"code": "request_too_large", "message": TOO_BIG}
    assert len(warnings_logged(caplog)) == 1
    assert not RevocationEvent.objects.exists()


# --- the docs page ----------------------------------------------------------------------------


def test_the_docs_page_answers_options(client):
    response = client.options(url("/api/docs/"))

    assert response.status_code == 200
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.content == b""


# --- admin filters ----------------------------------------------------------------------------

BAD_IDS = ["²", "٣", "1²", "9" * 25, "-1", "abc", "", " 1", "1.0", "+1", "01", "\x00"]


@pytest.fixture
def viewer(client, db):
    user = UserFactory(is_staff=True)
    for model in (AccessToken, TokenSession, Device, RevocationEvent):
        opts = model._meta
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=opts.app_label, codename=f"view_{opts.model_name}")
        )
    client.force_login(user)
    issue_session(UserFactory(), AppProfileFactory().application)
    return user


@pytest.mark.parametrize(
    ("model", "parameter"),
    [
        (AccessToken, "user"),
        (AccessToken, "device"),
        (TokenSession, "user"),
        (TokenSession, "device"),
        (Device, "user"),
    ],
)
def test_id_filters_refuse_what_is_not_an_id_the_admins_way(client, viewer, model, parameter):
    url = changelist_url(model)
    for value in BAD_IDS:
        if value == "":
            continue  # an empty filter is no filter
        response = client.get(url, {parameter: value})
        assert (response.status_code, response["Location"]) == (302, f"{url}?e=1"), value


@pytest.mark.parametrize(
    ("model", "parameter"),
    [(AccessToken, "session"), (RevocationEvent, "about"), (AccessToken, "app"), (TokenSession, "app")],
)
def test_text_and_uuid_filters_refuse_what_they_cannot_parse(client, viewer, model, parameter):
    url = changelist_url(model)
    values = ["not-a-uuid", "a\x00b"] if parameter != "app" else ["a\x00b"]
    for value in values:
        response = client.get(url, {parameter: value})
        assert (response.status_code, response["Location"]) == (302, f"{url}?e=1"), value
    assert client.get(url, {parameter: "😀 ²"}).status_code in (200, 302)


def test_a_real_id_still_filters(client, viewer):
    session = TokenSession.objects.get()
    response = client.get(changelist_url(TokenSession), {"user": str(session.user_id)})
    assert response.status_code == 200
    assert [obj.pk for obj in response.context["cl"].result_list] == [session.pk]


# --- revoke_tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "9" * 23], f"Unknown user (username or id): {'9' * 23}."),
        (["--user", "-1"], "Unknown user (username or id): -1."),
        (["--user", "²"], "Unknown user (username or id): ²."),
        # Bytes that are not UTF-8 reach Python as lone surrogates ($'\xff' in a shell).
        (["--user", "\udcff"], "Malformed --user (not UTF-8 text): \\xff."),
        (["--user", "a\x00b"], "Malformed --user (not UTF-8 text): a\\x00b."),
        (["--app", "\udcfe\udcff"], "Malformed --app (not UTF-8 text): \\xfe\\xff."),
        (["--session", "\udcff"], "Malformed --session (not UTF-8 text): \\xff."),
        (["--device", "x\udcff"], "Malformed --device (not UTF-8 text): x\\xff."),
    ],
)
def test_revoke_tokens_prints_its_error_for_every_bad_value(db, args, message):
    with pytest.raises(CommandError) as raised:
        call_command("revoke_tokens", *args, stdout=StringIO())

    assert str(raised.value) == message
    assert not RevocationEvent.objects.exists()
