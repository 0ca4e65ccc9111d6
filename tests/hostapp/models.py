"""The host project's user (a UUID primary key, e-mail login, ``is_active`` and ``is_staff``,
``PermissionsMixin`` for the admin, and deliberately no ``get_full_name`` nor ``username``) and
its swapped DOT models (``OAUTH2_PROVIDER_*_MODEL`` in ``tests.settings_host``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractDeviceGrant,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("e-mail address", unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


# DOT's six swappable models, swapped as DOT's "Extending the token models" says: all in one app
# (AccessToken and RefreshToken reference each other), each its abstract base plus one field of
# the host's own. token_admin must work on these tables, not on oauth2_provider's.
class Application(AbstractApplication):
    tenant = models.CharField(max_length=40, blank=True, default="")


class Grant(AbstractGrant):
    tenant = models.CharField(max_length=40, blank=True, default="")


class AccessToken(AbstractAccessToken):
    tenant = models.CharField(max_length=40, blank=True, default="")


class RefreshToken(AbstractRefreshToken):
    tenant = models.CharField(max_length=40, blank=True, default="")


class IDToken(AbstractIDToken):
    tenant = models.CharField(max_length=40, blank=True, default="")


class DeviceGrant(AbstractDeviceGrant):
    tenant = models.CharField(max_length=40, blank=True, default="")
