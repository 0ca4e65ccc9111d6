"""The host project's user admin: Django's ``UserAdmin`` (its password page included) with the
fields of this user model. token_admin wraps it in ``UserTokensAdminMixin`` as it would any."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm

from tests.hostapp.models import User


class HostUserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class HostUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict[str, type[forms.Field]] = {}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = HostUserChangeForm
    add_form = HostUserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    list_display = ("email", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email",)
    ordering = ("email",)
