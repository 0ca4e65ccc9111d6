"""Requests over Django's upload limits: each style answers them in its own format, with a 4xx.

Django raises ``RequestDataTooBig`` and ``TooManyFieldsSent`` lazily, from whatever first reads
``request.GET``, ``request.POST`` or the body (an authentication class, a parser, a view), so
they reached each style's "unexpected error" path: a 500 and a traceback logged at ERROR. Each
style calls :func:`check_request_limits` before anything else reads the request, and its
exception handler answers :data:`REQUEST_LIMIT_ERRORS` raised later (a form with too many
fields under the size limit) as a 400 or 413. Django's request log then writes its usual one
line at WARNING for the 4xx, without a traceback.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent

#: Django's exceptions for a request over ``DATA_UPLOAD_MAX_MEMORY_SIZE``,
#: ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` or ``DATA_UPLOAD_MAX_NUMBER_FILES``.
REQUEST_LIMIT_ERRORS = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def check_request_limits(request: Any) -> None:
    """Raise Django's own exception for a request over its limits, before anything reads it.

    The body is judged by its declared ``Content-Length`` against ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    (no endpoint of the three styles takes a file, so no body needs more); the query string is
    parsed, which raises ``TooManyFieldsSent`` past ``DATA_UPLOAD_MAX_NUMBER_FIELDS``.
    """
    django_request = getattr(request, "_request", request)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(django_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    django_request.GET  # noqa: B018  (parsed now, or TooManyFieldsSent)


def status_for(exc: Exception) -> int:
    """413 for a body over the size limit, 400 for too many fields or files."""
    return 413 if isinstance(exc, RequestDataTooBig) else 400


def message_for(exc: Exception) -> str:
    """A short message a client can act on (Django's own names the setting, not the limit)."""
    if isinstance(exc, RequestDataTooBig):
        return "Request body too large."
    if isinstance(exc, TooManyFilesSent):
        return "Too many files."
    return "Too many parameters or form fields."
