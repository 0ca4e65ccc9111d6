"""Primary keys in and out of JSON: the one place token_admin turns a user's (or an app's) id
into a JSON value and back, whatever the model's primary key type.

Django allows integer, big integer, UUID and string primary keys (a custom user model with a
UUID key is common). Every id token_admin writes into JSON (the audit event's selection, the
admin's signed selections, the events' contexts and payloads, command output) goes through
``to_json``; every id read back from such a value, or from a URL or an option, through
``parse``. Integers stay JSON numbers, as they have always been written; anything else is its
string form (a UUID as ``str(uuid)``), which ``parse`` turns back into the model's own value.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Field, IntegerField, Model, UUIDField


def to_json(pk: Any) -> Any:
    """A primary key as a JSON value: an ``int`` stays a number, ``None`` stays null, anything
    else (UUID, string, ...) is its string form."""
    if pk is None or (isinstance(pk, int) and not isinstance(pk, bool)):
        return pk
    return str(pk)


def parse(model: type[Model], value: Any) -> Any:
    """The primary key of ``model`` that ``value`` (a JSON value, a URL part, an option) names,
    as the model's field has it (``"7"`` -> 7, a UUID's string -> ``UUID``).

    Raises ``ValueError`` for a value that is not one (not a number, not a UUID, out of the
    column's range, a number for a UUID or string key): never a database error later.
    """
    field = model._meta.pk
    assert field is not None
    # UUIDField.to_python(7) is UUID(int=7): a number never names a UUID or string key.
    number = isinstance(value, int) and not isinstance(value, bool)
    if value is None or isinstance(value, (bool, float)) or (number and not _is_integer(field)):
        raise ValueError(f"Not a {model._meta.label} id: {value!r}")
    try:
        pk = field.to_python(value)
        field.run_validators(pk)  # e.g. 25 digits: out of the column's range
    except (ValidationError, TypeError) as error:
        raise ValueError(f"Not a {model._meta.label} id: {value!r}") from error
    if pk is None or pk == "":
        raise ValueError(f"Not a {model._meta.label} id: {value!r}")
    return pk


def parse_exact(model: type[Model], text: str) -> Any:
    """``parse`` for text from a URL or a query string: only the id's own spelling (``"7"``, not
    ``"07"`` or ``" 7"``; a UUID in lower case with hyphens), so one id has one URL."""
    pk = parse(model, text)
    if str(pk) != text:
        raise ValueError(f"Not a {model._meta.label} id: {text!r}")
    return pk


def user_pk(value: Any) -> Any:
    """``parse`` for the configured user model."""
    return parse(get_user_model(), value)


def kind(model: type[Model]) -> str:
    """``"integer"``, ``"uuid"`` or ``"string"``: how ``model``'s primary key looks in JSON and
    URLs, for the APIs' fields, filters, URL patterns and schema."""
    field = concrete_field(model._meta.pk)
    if isinstance(field, IntegerField):
        return "integer"
    return "uuid" if isinstance(field, UUIDField) else "string"


def concrete_field(field: Any) -> Any:
    """The field whose type an id has: a primary key that is a one-to-one link (multi-table
    inheritance) has its target's."""
    while (
        getattr(field, "remote_field", None) is not None and getattr(field, "target_field", None) is not None
    ):
        field = field.target_field
    return field


def _is_integer(field: Field[Any, Any]) -> bool:
    return isinstance(concrete_field(field), IntegerField)
