"""OpenAPI annotations for the API views, inert when drf-spectacular (the ``openapi`` extra) is absent.

The views carry their schema beside their code (``@extend_schema``), yet token_admin must import and
serve without drf-spectacular. This module hands out drf-spectacular's helpers when it is installed
and stand-ins that accept the same arguments and do nothing when it is not.

Each style's views set ``schema = view_schema(<style>Schema)``: an explicit drf-spectacular inspector,
so the styles are documented whatever the project's ``DEFAULT_SCHEMA_CLASS`` is.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from rest_framework import serializers

F = TypeVar("F", bound=Callable[..., Any])

HAVE_SPECTACULAR = importlib.util.find_spec("drf_spectacular") is not None

# Parameter locations, as drf-spectacular's OpenApiParameter constants spell them.
QUERY: Final = "query"
PATH: Final = "path"
HEADER: Final = "header"

if TYPE_CHECKING or HAVE_SPECTACULAR:
    from drf_spectacular.extensions import (
        OpenApiAuthenticationExtension,
        OpenApiSerializerExtension,
        OpenApiSerializerFieldExtension,
    )
    from drf_spectacular.openapi import AutoSchema
    from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

    class StyleSchema(AutoSchema):
        """The inspector of one API style: one tag, and operation ids that do not depend on the mount.

        drf-spectacular derives ids from the path (``2.2_access_tokens_retrieve``), which changes
        with the prefix an integrator mounts a style under; a viewset's ``operation_names`` (by
        action) do not, nor does a plain view's class name.
        """

        tag = ""
        operation_prefix = ""

        def get_tags(self) -> list[str]:
            return [self.tag]

        def get_operation_id(self) -> str:
            name = getattr(self.view, "operation_names", {}).get(getattr(self.view, "action", None))
            if name is None:
                name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self.view).__name__.removesuffix("View")).lower()
            return f"{self.operation_prefix}_{name}_{self.method.lower()}"

        def _is_list_view(self, serializer: Any = None) -> bool:
            # drf-spectacular takes a ``list`` action for a bare array (and pages it with the
            # project's paginator); each style answers a list inside its own envelope.
            return False

    class OpenObjectExtension(OpenApiSerializerExtension):
        """Maps an :class:`OpenObject` with ``additionalProperties``, which a DRF serializer cannot say."""

        target_class = "token_admin.api.openapi.OpenObject"
        match_subclasses = True

        def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
            schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
            return {**schema, "additionalProperties": True}

    class Int64FieldExtension(OpenApiSerializerFieldExtension):
        target_class = "token_admin.api.openapi.Int64Field"

        def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
            return {"type": "integer", "format": "int64"}

else:

    class _Inert:
        """Accepts whatever its drf-spectacular namesake accepts, and does nothing."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

    OpenApiAuthenticationExtension = OpenApiExample = OpenApiParameter = OpenApiResponse = _Inert
    StyleSchema = _Inert

    def extend_schema(*args: Any, **kwargs: Any) -> Any:
        return lambda view: view


class OpenObject(serializers.Serializer):
    """A schema-only serializer for an object that may carry keys beyond those it lists."""


class Int64Field(serializers.IntegerField):
    """A schema-only integer that may not fit in 32 bits (ids, epoch times), for client generators."""


def extend_action(schema_class: type[StyleSchema], **kwargs: Any) -> Callable[[F], F]:
    """``extend_schema(**kwargs)`` for an action of a style's viewset, over the style's inspector.

    On a method, ``extend_schema`` builds on the project's ``DEFAULT_SCHEMA_CLASS`` as it is at
    import time; a project whose default is DRF's own would then get a schema class
    drf-spectacular cannot combine with the style's. Naming the style's inspector first (where
    ``extend_schema`` looks for it, as ``@action`` leaves it) keeps it the base.
    """

    def decorator(function: F) -> F:
        if HAVE_SPECTACULAR:
            function.kwargs = {**getattr(function, "kwargs", {}), "schema": schema_class}  # type: ignore[attr-defined]
        decorated: F = extend_schema(**kwargs)(function)
        return decorated

    return decorator


def view_schema(schema_class: type[StyleSchema]) -> Any:
    """The ``schema`` of a style's views: its inspector, or DRF's default without drf-spectacular."""
    if HAVE_SPECTACULAR:
        return schema_class()
    from rest_framework.schemas import DefaultSchema

    return DefaultSchema()


__all__ = [
    "HEADER",
    "PATH",
    "QUERY",
    "OpenApiAuthenticationExtension",
    "OpenApiExample",
    "OpenApiParameter",
    "OpenApiResponse",
    "Int64Field",
    "OpenObject",
    "StyleSchema",
    "extend_action",
    "extend_schema",
    "view_schema",
]
