"""The viewset base the three API styles share; each style's own base sets the rest, in one place.

Every view of a style is a viewset of that style's base (catch-all 404s included), and every
error a view raises is answered through the one hook DRF offers for it: the style's base
overrides ``get_exception_handler()`` to return the style's ``errors.exception_handler``,
whatever the project's ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` is.

An integrator subclasses a style's viewset to change what it reads (``get_queryset``) or who may
call it (``permission_classes``), and mounts the subclass with the style's URL patterns
(``urls.patterns(...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from token_admin.api.limits import check_request_limits
from token_admin.api.negotiation import JSONOnly

ExceptionHandler = Callable[[Exception, dict[str, Any]], Response]


class StyleViewSet(GenericViewSet):
    """What every style's viewsets share: one format, their own limits, their own errors."""

    #: ``{action: name}``: the operation ids in the OpenAPI schema (``<style>_<name>_<method>``).
    operation_names: ClassVar[dict[str, str]] = {}

    content_negotiation_class = JSONOnly
    # Each style limits requests its own way (a per-token window, a daily quota, failed logins),
    # and pages and filters its own way: none of the project's DRF defaults apply.
    throttle_classes: list[Any] = []
    pagination_class = None
    filter_backends: list[Any] = []

    def get_exception_handler(self) -> ExceptionHandler:
        """The style's ``errors.exception_handler``: each style's base returns its own.

        Never the project's: a style answers every error in its own format.
        """
        raise NotImplementedError(f"{type(self).__name__} belongs to no API style")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_request_limits(request)  # before anything reads the query string or the body
        super().initial(request, *args, **kwargs)
