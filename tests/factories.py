"""factory-boy factories for users, DOT apps and tokens, and token_admin's models.

Tokens are created the way DOT saves them (access token first, then its refresh token),
so token_admin's receivers create sessions as they do in production. Every token factory
leaves the raw token on the instance as ``raw_token``: with
``COMPLIANT_BCP_RFC9700_TOKEN_STORAGE`` DOT keeps no cleartext, so this is the only copy.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)

from token_admin.models import AppProfile, Device

Application = get_application_model()


User = get_user_model()
_USER_FIELDS = {field.name for field in User._meta.get_fields()}


class UserFactory(factory.django.DjangoModelFactory):
    """A user of whichever user model is configured: Django's, or the host configuration's
    (``tests.hostapp``: UUID pk, e-mail login, no username nor names). ``username="alice"`` works
    with both: without a username field it only names the e-mail address (alice@example.com),
    so ``user.get_username()`` (or ``login_name("alice")``) is what a test compares with; names
    given to a model without name fields are dropped."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:  # what the model has no field for: accepted, only used to build the rest
        if "username" not in _USER_FIELDS:
            username = factory.Sequence(lambda n: f"user{n}")
        if "first_name" not in _USER_FIELDS:
            first_name = last_name = ""

    if "username" in _USER_FIELDS:
        username = factory.Sequence(lambda n: f"user{n}")
    if "first_name" in _USER_FIELDS:
        first_name = "Ada"
        last_name = factory.Sequence(lambda n: f"Lovelace{n}")

    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("password")


def login_name(username: str) -> str:
    """What ``UserFactory(username=username)`` signs in with (its ``get_username()``): the name
    itself, or its e-mail address with the host configuration's e-mail login."""
    return username if User.USERNAME_FIELD == "username" else f"{username}@example.com"


class ApplicationFactory(factory.django.DjangoModelFactory):
    """A confidential authorization-code app; ``raw_secret`` holds its client secret.

    ``api_client=True``: a client-credentials app granted the end-user token API (the README's
    ``create_api_client``), the caller of that API with HTTP Basic credentials.
    """

    class Meta:
        model = Application
        skip_postgeneration_save = True

    class Params:
        api_client = factory.Trait(
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            redirect_uris="",
            profile=factory.RelatedFactory(
                "tests.factories.AppProfileFactory", factory_related_name="application", end_user_api=True
            ),
        )

    name = factory.Sequence(lambda n: f"App {n}")
    client_type = Application.CLIENT_CONFIDENTIAL
    authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    redirect_uris = "https://app.example.com/callback"
    client_secret = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    user = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # DOT hashes the secret when it saves: keep the one copy a client would hold.
        raw_secret = kwargs["client_secret"]
        application = super()._create(model_class, *args, **kwargs)
        application.raw_secret = raw_secret
        return application


class AppProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppProfile

    application = factory.SubFactory(ApplicationFactory)
    link = "https://app.example.com/"


class TokenFactory(factory.django.DjangoModelFactory):
    """Saves a token as DOT does (``set_token_value``: cleartext or hashed, with its checksum) and
    leaves the raw value on the instance as ``raw_token``; ``token=...`` picks the value."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw_token = kwargs.pop("token", None) or secrets.token_urlsafe(30)
        token = model_class(*args, **kwargs)
        set_token_value(token, raw_token)
        token.save()
        token.raw_token = raw_token
        return token


class AccessTokenFactory(TokenFactory):
    """A valid user access token (``user=None`` makes an app token).

    ``expired=True``: it expired a second ago. ``with_refresh=True``: with a live refresh token in a
    new family (``token.refresh_token``), as DOT's token endpoint issues a pair.
    """

    class Meta:
        model = get_access_token_model()
        skip_postgeneration_save = True

    class Params:
        expired = factory.Trait(expires=factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1)))
        with_refresh = factory.Trait(
            refresh=factory.RelatedFactory(
                "tests.factories.RefreshTokenFactory", factory_related_name="access_token"
            )
        )

    user = factory.SubFactory(UserFactory)
    application = factory.SubFactory(ApplicationFactory)
    expires = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=10))
    scope = "basic stream"


class RefreshTokenFactory(TokenFactory):
    """A live refresh token bound to ``access_token``, in a new family unless one is given."""

    class Meta:
        model = get_refresh_token_model()

    access_token = factory.SubFactory(AccessTokenFactory)
    user = factory.LazyAttribute(lambda rt: rt.access_token.user)
    application = factory.LazyAttribute(lambda rt: rt.access_token.application)
    token_family = factory.LazyFunction(uuid.uuid4)


class GrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_grant_model()

    user = factory.SubFactory(UserFactory)
    application = factory.SubFactory(ApplicationFactory)
    code = factory.LazyFunction(lambda: secrets.token_urlsafe(20))
    expires = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=1))
    redirect_uri = "https://app.example.com/callback"
    scope = "basic"


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"iPad {n}")
    application = None


def issue_session(user, application, *, refresh=True, scope="basic stream", expires_in=timedelta(hours=10)):
    """Issue a token pair as DOT's token endpoint does; returns (access_token, refresh_token or None)."""
    access_token = AccessTokenFactory(
        user=user,
        application=application,
        scope=scope,
        expires=timezone.now() + expires_in,
        with_refresh=refresh,
    )
    return access_token, access_token.refresh_token if refresh else None


def rotate(refresh_token, *, expires_in=timedelta(hours=10)):
    """Refresh as DOT does with rotation: revoke the old pair, mint a new pair in the family."""
    refresh_token.revoke()
    access_token = AccessTokenFactory(
        user=refresh_token.user,
        application=refresh_token.application,
        scope="basic stream",
        expires=timezone.now() + expires_in,
        source_refresh_token=refresh_token,
    )
    new_refresh = RefreshTokenFactory(access_token=access_token, token_family=refresh_token.token_family)
    return access_token, new_refresh
