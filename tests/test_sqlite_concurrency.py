"""The example project's SQLite settings under parallel writes: queued, never "database is locked".

Runs ``tests/scripts/sqlite_storm.py`` in a process of its own on a SQLite file with the
example project's settings (IMMEDIATE transactions, WAL, a busy timeout): 8 revocations
through the three API styles and 8 refreshes of the same sessions, released at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import global_settings, settings
from django.db import connection

from example_project import settings as example_settings
from tests.helpers import subprocess_database_url

ROOT = Path(__file__).resolve().parent.parent
# The swappable models: the example project keeps Django's user model and DOT's own.
SWAPPABLE = (
    "AUTH_USER_MODEL",
    *(
        f"OAUTH2_PROVIDER_{name}_MODEL"
        for name in ("APPLICATION", "ACCESS_TOKEN", "REFRESH_TOKEN", "GRANT", "ID_TOKEN", "DEVICE_GRANT")
    ),
)


def same_models_as_the_example_project() -> bool:
    """Whether the test database has the example project's tables (not the host configuration's)."""
    return all(
        getattr(settings, name, None) == getattr(example_settings, name, getattr(global_settings, name, None))
        for name in SWAPPABLE
    )


@pytest.mark.django_db
def test_sixteen_parallel_revocations_and_refreshes_on_sqlite_never_answer_5xx(tmp_path):
    # On SQLite, a copy of the migrated test database (migrating a fresh file took most of the
    # test's time); on the other databases, or when the test database has other models than the
    # example project's (the host configuration's user model), a fresh file, which the script migrates.
    if connection.vendor == "sqlite" and same_models_as_the_example_project():
        database_url = subprocess_database_url(tmp_path)
    else:
        database_url = f"sqlite:///{tmp_path / 'storm.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "scripts" / "sqlite_storm.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    results = report["results"]
    assert len(results) == 16
    statuses = {name: result["status"] for name, result in results.items()}
    assert all(0 < status < 500 for status in statuses.values()), results
    assert all(statuses[f"revoke-{n}"] in (200, 204) for n in range(8)), results
    # A refresh either won (and its new pair was revoked with the session) or lost (400).
    assert all(statuses[f"refresh-{n}"] in (200, 400) for n in range(8)), results
    assert report["live_refresh_tokens_in_revoked_sessions"] == 0
