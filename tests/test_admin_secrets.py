"""No admin on the default site filters, orders or searches by a secret field.

Each test runs as a view-only staff user (view permission on every registered model): the
attacker who would recover tokens by binary search with ``?token__gte=<prefix>``.
A guess that matches every row and one that matches none must get the same answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db.models import F
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from tests.factories import ApplicationFactory, DeviceFactory, GrantFactory, UserFactory, issue_session
from tests.helpers import changelist_url
from token_admin.admin import mixins as token_admin_admin
from token_admin.admin.mixins import protect_secret_fields, reaches_secret, secret_fields, total_ordering

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
Application = get_application_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()

#: Relation paths that reach a secret field, tried on every admin whose model has them.
NAMED_PATHS = (
    "refresh_token__token",
    "access_token__token",
    "source_refresh_token__token",
    "application__client_secret",
    "refresh_token__token_checksum",
    "access_token__token_checksum",
    "user__password",
)
LOOKUPS = ("gte", "startswith", "regex", "exact")


@pytest.fixture
def seeded(db) -> dict[str, Any]:
    """Two of everything, so that an order or a filter that worked would show in the rows."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    stream, tablet = ApplicationFactory(name="Stream"), ApplicationFactory(name="Tablet")
    access, refresh = issue_session(alice, stream)
    issue_session(bob, tablet)
    for user, app in ((alice, stream), (bob, tablet)):
        GrantFactory(user=user, application=app, code_challenge=f"challenge-{user.pk}")
        id_token = IDToken.objects.create(
            user=user, application=app, expires=timezone.now() + timedelta(hours=1)
        )
        AccessToken.objects.filter(user=user, application=app).update(id_token=id_token)
        DeviceFactory(user=user, application=app)
    return {"access": access, "refresh": refresh}


@pytest.fixture
def viewer(client, seeded):
    """A staff user with the view permission on every registered model, and nothing else."""
    user = UserFactory(is_staff=True)
    for model in admin.site._registry:
        opts = model._meta
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=opts.app_label, codename=f"view_{opts.model_name}")
        )
    client.force_login(user)
    return user


def secret_paths(model: Any) -> list[str]:
    """Every path to a secret field: the model's own, one relation away, and the named ones."""
    paths = sorted(secret_fields(model))
    for field in model._meta.get_fields():
        if field.is_relation and field.related_model is not None:
            paths += [f"{field.name}__{name}" for name in sorted(secret_fields(field.related_model))]
    paths += [path for path in NAMED_PATHS if reaches_secret(model, path) and path not in paths]
    return paths


def guesses(model: Any, path: str, lookup: str) -> tuple[str, str]:
    """A value that matches every row (or a real one) and one that matches none."""
    if lookup == "exact":
        real = model._default_manager.exclude(**{f"{path}__isnull": True}).values_list(path, flat=True)
        return str(real.first() or ""), "no-such-value"
    return {"gte": ("", "\uffff"), "startswith": ("", "\uffff"), "regex": (".", "^\uffff$")}[lookup]


def test_the_walk_covers_the_credential_models(seeded):
    models = {model for model in admin.site._registry if secret_paths(model)}
    for model in (AccessToken, RefreshToken, Grant, IDToken):
        assert model in models
    assert secret_fields(AccessToken) == {"token", "token_checksum"}
    assert secret_fields(Grant) == {"code", "code_challenge"}


def test_every_admin_refuses_every_filter_on_a_secret_field_with_the_same_400(client, viewer):
    tried = 0
    for model in admin.site._registry:
        url = changelist_url(model)
        for path in secret_paths(model):
            for lookup in LOOKUPS:
                hit, miss = guesses(model, path, lookup)
                answers = [client.get(url, {f"{path}__{lookup}": value}) for value in (hit, miss)]
                assert [answer.status_code for answer in answers] == [400, 400], (model, path, lookup)
                assert answers[0].content == answers[1].content
                assert b"result_list" not in answers[0].content  # no row of the list, no count
                tried += 2
    assert tried > 200


def test_an_unprotected_admin_is_an_oracle_which_the_walk_would_catch(rf_admin):
    """Proof that the walk above can fail: DOT's stock grant admin answers the guesses apart."""
    site, request = rf_admin
    site.register(Grant, dot_admin.GrantAdmin)
    stock = site._registry[Grant]
    assert stock.lookup_allowed("code__gte", "", request)
    protect_secret_fields(site)
    assert not site._registry[Grant].lookup_allowed("code__gte", "", request)


@pytest.fixture
def rf_admin(viewer):
    request = RequestFactory().get("/")
    request.user = viewer
    return admin.AdminSite(name="secrets_test"), request


def row_order(client, url: str, **params: str) -> list[int]:
    response = client.get(url, params)
    assert response.status_code == 200, response
    return [obj.pk for obj in response.context["cl"].result_list]


def test_no_admin_orders_by_a_secret_column(client, viewer):
    for model, model_admin in admin.site._registry.items():
        url = changelist_url(model)
        request = RequestFactory().get(url)
        request.user = viewer
        list_display = model_admin.get_list_display(request)
        sortable = set(model_admin.get_sortable_by(request))
        default = row_order(client, url)
        for index, name in enumerate(list_display):
            target = token_admin_admin._order_target(model_admin, name)
            if token_admin_admin._expression_reaches_secret(model, target):
                assert name not in sortable
                assert row_order(client, url, o=str(index)) == default
                assert row_order(client, url, o=f"-{index}") == default


def test_a_secret_column_is_neither_sortable_nor_ordered_by(viewer, seeded):
    """A project's grant admin that lists ``code``: protected, ``o=`` is ignored both ways."""

    class CodeListingGrantAdmin(admin.ModelAdmin):
        list_display = ("code", "user")
        ordering = ("code",)

    site = admin.AdminSite(name="secrets_test")
    site.register(Grant, CodeListingGrantAdmin)
    protect_secret_fields(site)
    grant_admin = site._registry[Grant]

    def order(o: str | None) -> list[int]:
        request = RequestFactory().get("/", {"o": o} if o is not None else {})
        request.user = viewer
        changelist = grant_admin.get_changelist_instance(request)
        return [obj.pk for obj in changelist.result_list]

    request = RequestFactory().get("/")
    request.user = viewer
    assert "code" not in grant_admin.get_sortable_by(request)
    assert grant_admin.get_ordering(request) == []
    assert order("0") == order("-0") == order(None)
    # Total again without the code: by the primary key, newest first, as Django's changelist.
    assert order(None) == sorted(order(None), reverse=True)

    # ... while the unprotected class orders by the code, one way and the other.
    def plain_order(o: str) -> list[int]:
        request = RequestFactory().get("/", {"o": o})
        request.user = viewer
        changelist = CodeListingGrantAdmin(Grant, site).get_changelist_instance(request)
        return [obj.pk for obj in changelist.result_list]

    assert plain_order("0") == list(reversed(plain_order("-0")))
    assert plain_order("0") != plain_order("-0")


def test_total_ordering_ends_with_the_primary_key_unless_a_unique_field_decides_already():
    # Django's changelist rule, kept by token_admin (Django 6.1 removed the private method).
    assert total_ordering(Application, ["name"]) == ["name", "-pk"]
    assert total_ordering(Application, ["-client_id"]) == ["-client_id"]  # unique, not null
    assert total_ordering(Application, ["name", "-id"]) == ["name", "-id"]
    assert total_ordering(Application, ["pk"]) == ["pk"]
    by_name = F("name").desc()
    assert total_ordering(Application, [by_name]) == [by_name, "-pk"]
    assert total_ordering(Application, [F("id").asc()]) == [F("id").asc()]
    # A relation by its name orders by the other model's ordering; its id column is not unique.
    assert total_ordering(AccessToken, ["user", "user_id", "?"]) == ["user", "user_id", "?", "-pk"]
    assert total_ordering(Application, []) == ["-pk"]


def test_no_admin_searches_a_secret_field(viewer):
    request = RequestFactory().get("/")
    request.user = viewer
    for model, model_admin in admin.site._registry.items():
        for field in model_admin.get_search_fields(request):
            assert not reaches_secret(model, field), (model, field)


def test_a_grant_code_or_client_secret_never_matches_a_search(client, viewer, seeded):
    grant = Grant.objects.first()
    response = client.get(changelist_url(Grant), {"q": grant.code})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_a_pasted_token_finds_its_one_row_and_nothing_else(client, viewer, seeded, kind):
    token = seeded[kind]
    url = changelist_url(type(token))

    found = client.get(url, {"q": token.raw_token})
    assert found.status_code == 200
    assert [obj.pk for obj in found.context["cl"].result_list] == [token.pk]
    # Only in the search box: no filter, sorting or row link, no hidden field carries it.
    assert found.content.decode().count(token.raw_token) == 1
    assert f'name="q" value="{token.raw_token}"' in found.content.decode()
    # Not a prefix, not a suffix, not the checksum itself, not the token with a character changed.
    for near in (token.raw_token[:-1], token.raw_token[1:], token.token_checksum, token.raw_token + "x"):
        response = client.get(url, {"q": near})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []


def test_view_only_staff_never_see_a_clear_text_client_secret(client, viewer):
    application = ApplicationFactory(hash_client_secret=False)
    url = reverse(
        f"admin:{application._meta.app_label}_{application._meta.model_name}_change", args=[application.pk]
    )

    response = client.get(url)

    assert response.status_code == 200
    assert application.name.encode() in response.content
    assert application.raw_secret.encode() not in response.content


def test_staff_who_may_change_an_application_still_have_its_secret_field(admin_client):
    application = ApplicationFactory(hash_client_secret=False)
    url = reverse(
        f"admin:{application._meta.app_label}_{application._meta.model_name}_change", args=[application.pk]
    )

    response = admin_client.get(url)

    assert response.status_code == 200
    assert "client_secret" in response.context["adminform"].form.fields
