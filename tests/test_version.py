"""The version has one source: pyproject.toml, read back through the installed metadata."""

import sys
from pathlib import Path

import token_admin

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib


def test_version_is_the_one_in_pyproject():
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert token_admin.__version__ == pyproject["project"]["version"]
