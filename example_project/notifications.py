"""What a project would send its users and app owners when their tokens were found leaked.

The example project only logs the notices; a real one would send mail or a push message.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from oauth2_provider.models import get_application_model

logger = logging.getLogger("example_project.notifications")


def log_leak_notices(
    sender: Any, event: Any, user_ids: list[Any], application_ids: list[Any], **kwargs: Any
) -> None:
    users = get_user_model()._default_manager.filter(pk__in=user_ids)
    for user in users:
        logger.warning(
            "Notice to %s: a token of yours was found in public and has been revoked (audit event %s).",
            user.get_username(),
            event.pk,
        )
    for application in get_application_model().objects.filter(pk__in=application_ids).select_related("user"):
        owner = application.user.get_username() if application.user_id else "the app's owner"
        logger.warning(
            "Notice to %s: a token of app %s was found in public and has been revoked (audit event %s).",
            owner,
            application.name,
            event.pk,
        )
