"""``python manage.py create_api_client NAME``: a new API client of the end-user token API."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from token_admin.models import AppProfile


class Command(BaseCommand):
    help = (
        "Create a confidential client-credentials application that may call the end-user token API, "
        'and print {"client_id": ..., "client_secret": ...} as one JSON line. '
        "The secret is stored hashed: this is the only time it is shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The API client's name, as shown in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("The name must not be empty.")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError as exc:  # undecodable bytes on the command line
            raise CommandError("The name must be valid UTF-8.") from exc
        application_model = get_application_model()
        # Kept here: DOT hashes the secret when it saves the application.
        client_secret = generate_client_secret()
        application = application_model(
            name=name,
            client_type=application_model.CLIENT_CONFIDENTIAL,
            authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
            client_secret=client_secret,
        )
        try:
            application.full_clean()
        except ValidationError as exc:
            messages = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            raise CommandError(f"Invalid API client: {messages}") from exc
        with transaction.atomic():
            application.save()
            AppProfile.objects.create(application=application, end_user_api=True)
        self.stdout.write(json.dumps({"client_id": application.client_id, "client_secret": client_secret}))
