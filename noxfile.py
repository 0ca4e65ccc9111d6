"""The version matrix: the whole suite on SQLite on every supported Python and Django pair, and
on the lowest and the highest releases of the dependencies that pyproject.toml allows.

    nox -l                                    # the cells
    nox -s "tests-3.12(django='6.1')"         # one cell
    nox -s lowest highest

A cell runs ``pytest -q -p no:cacheprovider`` without coverage, and without the browser tests
but in ``highest``: PostgreSQL, MariaDB, hashed token storage, coverage and the browser tests
are the primary cell's, `make test` on Django 5.2 (see .ci/run). Arguments after ``--`` go to
pytest. Each cell's virtualenv is made by uv when it is installed (its cache in ~/.cache/uv
makes a new one take seconds), otherwise by virtualenv and pip.
"""

from __future__ import annotations

import glob
import os
import re

import nox
from packaging.requirements import Requirement

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True

PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# Django 6.x needs Python 3.12 or later.
CELLS = [
    *[(python, "5.2") for python in PYTHONS],
    *[(python, django) for python in ("3.12", "3.13") for django in ("6.0", "6.1")],
]
PYTEST = ("pytest", "-q", "-p", "no:cacheprovider")


def _interpreters_from_pyenv() -> None:
    """Put pyenv's interpreters on PATH, where nox and uv look for ``python3.X`` (pyenv's
    shims answer only for the version selected, and this machine has them all)."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = []
    for python in PYTHONS:
        releases = {  # final releases only (not 3.13.0t, 3.14-dev)
            path: int(path.split(os.sep)[-3].split(".")[2])
            for path in glob.glob(os.path.join(root, "versions", f"{python}.*", "bin", f"python{python}"))
            if re.fullmatch(r"\d+\.\d+\.\d+", path.split(os.sep)[-3])
        }
        if releases:  # the newest patch release: 3.12.10 after 3.12.9
            found.append(os.path.dirname(max(releases, key=releases.__getitem__)))
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_interpreters_from_pyenv()


#: What a cell prints first: the versions it proves.
VERSIONS = (
    "import sys, importlib.metadata as m; print(*[f'{n} {m.version(n)}' for n in sys.argv[1:]], sep=', ')"
)
PACKAGES = ("Django", "djangorestframework", "django-oauth-toolkit", "oauthlib", "django-filter", "ua-parser")
PACKAGES += ("PyJWT", "standardwebhooks")


def _run_suite(session: nox.Session, *requirements: str, browser: bool = False) -> None:
    session.install("-e", ".[suite]", *requirements)
    session.run("python", "--version")
    session.run("python", "-c", VERSIONS, *PACKAGES)
    # SQLite in memory, the default cache and cleartext storage, whatever the shell exports.
    outside = dict.fromkeys(("DATABASE_URL", "REDIS_URL", "TOKEN_ADMIN_HASHED_TOKENS"))
    session.run(*PYTEST, *(() if browser else ("-m", "not browser")), *session.posargs, env=outside)


@nox.session
@nox.parametrize(("python", "django"), CELLS, ids=[f"{p}-{d}" for p, d in CELLS])
def tests(session: nox.Session, django: str) -> None:
    """The suite on one Python and one Django feature release, the newest of everything else."""
    major, minor = django.split(".")
    _run_suite(session, f"Django>={django},<{major}.{int(minor) + 1}")


def _lower_bounds() -> list[str]:
    """``name==X`` for each ``name>=X`` among the package's own dependencies."""
    pins = []
    for line in nox.project.load_toml("pyproject.toml")["project"]["dependencies"]:
        requirement = Requirement(line)
        for specifier in requirement.specifier:
            if specifier.operator == ">=":
                pins.append(f"{requirement.name}=={specifier.version}")
    return pins


@nox.session(python="3.10")
def lowest(session: nox.Session) -> None:
    """Every lower bound of the package's dependencies at once (Django, DRF, DOT, oauthlib, ...)
    on the oldest Python: the bounds in pyproject.toml are what passes."""
    _run_suite(session, *_lower_bounds())


@nox.session(python="3.13")
def highest(session: nox.Session) -> None:
    """The newest Python and the newest release of every dependency, Django included; with the
    browser tests (the newest Django's admin markup, at 1366 px)."""
    _run_suite(session, "--upgrade", browser=True)
