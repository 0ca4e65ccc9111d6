"""token_admin on DOT's swapped models, as real products swap them.

Under the host configuration (``tests.settings_host``) DOT's six swappable models are the host
app's (``tests.hostapp``: each DOT abstract model plus a ``tenant`` field) and DOT's own tables
do not exist, so token_admin's migrations, revocations, admin and pruning must work on the
host's tables. Under ``tests.settings`` the same tests run on DOT's stock models, except the
ones about the swap itself, which skip.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from tests.concurrency import can_mint, dot_accepts
from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    GrantFactory,
    RefreshTokenFactory,
    UserFactory,
)
from token_admin import admin as token_admin_admin
from token_admin.revocation import Actor, Selection, Surface, revoke

pytestmark = pytest.mark.django_db

SWAPPED = oauth2_settings.ACCESS_TOKEN_MODEL != "oauth2_provider.AccessToken"
needs_swap = pytest.mark.skipif(
    not SWAPPED, reason="DOT's models are swapped in the host configuration only (--ds=tests.settings_host)"
)
# The host's own field where the models have it (not on DOT's stock models).
TENANT = {"tenant": "acme"} if SWAPPED else {}

GETTERS = {
    "Application": get_application_model,
    "AccessToken": get_access_token_model,
    "RefreshToken": get_refresh_token_model,
    "IDToken": get_id_token_model,
    "Grant": get_grant_model,
    "DeviceGrant": get_device_grant_model,
}


def table_rows(model, where: str = "") -> int:
    """Rows of ``model``'s own table, counted in SQL by its table name (not through the ORM)."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} {where}")
        return cursor.fetchone()[0]


@needs_swap
@pytest.mark.parametrize("name", list(GETTERS))
def test_each_dot_model_is_the_host_apps_with_its_own_field(name):
    model = GETTERS[name]()
    assert model._meta.label == f"hostapp.{name}"
    assert model._meta.db_table == f"hostapp_{name.lower()}"
    assert model._meta.get_field("tenant").default == ""
    stock = apps.get_model("oauth2_provider", name)
    assert stock._meta.swapped == f"hostapp.{name}"
    assert not admin.site.is_registered(stock)


@needs_swap
def test_the_database_has_the_host_tables_and_none_of_dots():
    tables = set(connection.introspection.table_names())
    assert {f"hostapp_{name.lower()}" for name in GETTERS} <= tables
    assert not {table for table in tables if table.startswith("oauth2_provider_")}


def test_the_token_indexes_are_on_the_configured_access_token_table():
    """Migration 0003 indexes whatever table the configured access-token model has."""
    table = get_access_token_model()._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints["ta_at_app_id_idx"]["columns"] == ["application_id", "id"]
    assert constraints["ta_at_app_user_idx"]["columns"] == ["application_id", "user_id"]


@pytest.fixture
def world():
    """alice with a session in each of two apps and an authorization code; bob with a session.
    Every row carries the host's tenant where the models have the field."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    stream, web = ApplicationFactory(name="Stream", **TENANT), ApplicationFactory(name="Web", **TENANT)

    def session(user, app):
        access = AccessTokenFactory(user=user, application=app, **TENANT)
        refresh = RefreshTokenFactory(access_token=access, **TENANT)
        return access, refresh

    return SimpleNamespace(
        alice=alice,
        bob=bob,
        stream=stream,
        alice_sessions=[session(alice, stream), session(alice, web)],
        alice_grant=GrantFactory(user=alice, application=stream, **TENANT),
        bob_session=session(bob, stream),
    )


def test_revoking_a_users_tokens_revokes_rows_of_the_configured_tables(world):
    access_model, refresh_model = get_access_token_model(), get_refresh_token_model()
    assert (table_rows(access_model), table_rows(refresh_model), table_rows(get_grant_model())) == (3, 3, 1)

    result = revoke(Selection.users([world.alice]), surface=Surface.COMMAND, actor=Actor.command("tests"))

    assert (result.access_tokens, result.refresh_tokens, result.grants) == (2, 2, 1)
    # alice's access tokens and code are gone from the tables, her refresh tokens marked revoked
    # in place (the host's field kept: updated, not recreated); bob's rows untouched.
    assert table_rows(access_model) == 1
    assert table_rows(get_grant_model()) == 0
    assert table_rows(refresh_model, "WHERE revoked IS NULL") == 1
    revoked = refresh_model.objects.filter(user=world.alice, revoked__isnull=False)
    assert sorted(revoked.values_list("pk", flat=True)) == sorted(r.pk for _, r in world.alice_sessions)
    if SWAPPED:
        assert set(revoked.values_list("tenant", flat=True)) == {"acme"}
    # What a client sees: DOT refuses alice's tokens and her refresh tokens mint nothing.
    for access, refresh in world.alice_sessions:
        assert not dot_accepts(access.raw_token)
        assert not can_mint(access.application, refresh.raw_token)
    assert dot_accepts(world.bob_session[0].raw_token)


def staff_client(*models) -> Client:
    """A staff member (not a superuser) with the view permission of each model."""
    staff = UserFactory(username="staff", is_staff=True)
    for model in models:
        content_type = ContentType.objects.get_for_model(model)
        codename = f"view_{model._meta.model_name}"
        staff.user_permissions.add(Permission.objects.get(content_type=content_type, codename=codename))
    client = Client()
    client.force_login(staff)
    return client


# The five models DOT's admin registers (it has no device-grant admin), and how many rows of the
# world each changelist lists.
ADMIN_ROWS = {"Application": 2, "AccessToken": 3, "RefreshToken": 3, "IDToken": 0, "Grant": 1}


def test_staff_see_the_changelists_of_the_configured_dot_models(world):
    models = [GETTERS[name]() for name in ADMIN_ROWS]
    client = staff_client(*models)
    for name, model in zip(ADMIN_ROWS, models, strict=True):
        opts = model._meta
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert response.status_code == 200, name
        assert response.context["cl"].result_count == ADMIN_ROWS[name], name
    # token_admin's admins replaced DOT's on the configured models, not on DOT's stock ones.
    registry = admin.site._registry
    assert isinstance(registry[get_access_token_model()], token_admin_admin.AccessTokenAdmin)
    assert isinstance(registry[get_refresh_token_model()], token_admin_admin.RefreshTokenAdmin)
    assert isinstance(registry[get_application_model()], token_admin_admin.ApplicationAdmin)
    assert isinstance(registry[get_id_token_model()], token_admin_admin.IDTokenAdmin)
    assert isinstance(registry[get_grant_model()], token_admin_admin.GrantAdmin)


@needs_swap
def test_the_token_pages_show_the_host_models_own_field(world):
    """token_admin's token admins list their fields; a swapped model's own ones follow them."""
    access, refresh = world.alice_sessions[0]
    access_model, refresh_model = get_access_token_model(), get_refresh_token_model()
    client = staff_client(access_model, refresh_model)
    for obj in (access, refresh):
        opts = obj._meta
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        assert response.status_code == 200
        page = response.content.decode()
        assert '<div class="readonly">acme</div>' in page
        assert obj.raw_token not in page


def test_the_token_admins_list_the_configured_models_own_fields_last(rf):
    """What the token pages show: token_admin's fields, then the model's own (none on DOT's)."""
    own = ("tenant",) if SWAPPED else ()
    for model in (get_access_token_model(), get_refresh_token_model()):
        fields = admin.site._registry[model].get_fields(rf.get("/"))
        assert fields[-1 - len(own) :] == ("related", *own)


def test_prune_tokens_deletes_from_the_configured_refresh_token_table(world):
    refresh_model = get_refresh_token_model()
    access, refresh = world.alice_sessions[0]
    long_ago = timezone.now() - timedelta(days=30)
    refresh.revoke()
    refresh_model.objects.filter(pk=refresh.pk).update(revoked=long_ago)

    out = StringIO()
    call_command("prune_tokens", "--format", "json", stdout=out)

    assert '"refresh_tokens": 1' in out.getvalue()
    assert table_rows(refresh_model) == 2
    assert not refresh_model.objects.filter(pk=refresh.pk).exists()
