#!/usr/bin/env bash
# Run django-oauth-toolkit's own test suite with and without token_admin installed and
# print every DOT test that passes as-is and fails with token_admin.
#
# Usage: scripts/dot_suite.sh DOT_CHECKOUT [extra pytest args...]
#
# DOT_CHECKOUT is a checkout of DOT's repository at the tag of the DOT version you run
# (the sdist on the package index has DOT's test modules but not their settings and test
# app). Three passes, each with DOT's tests.settings (SQLite, in memory):
#   as-is        DOT alone
#   token_admin  + rest_framework and token_admin in INSTALLED_APPS, TokenAdminOAuth2Validator
#                as DOT's *default* validator (tests that set their own still win)
#   dot_validator  token_admin installed, DOT's default validator left alone
# Exit status 1 if any test regressed.
#
# Environment:
#   DOT_SUITE_VENV      virtualenv to create/use (default: $TMPDIR/dot-suite-venv); DOT's test
#                       requirements go there, never into this project's environment
#   DOT_SUITE_OUT       where the JUnit reports go (default: $TMPDIR/dot-suite-reports)
#   DOT_SUITE_WORKERS   pytest-xdist workers (default 0: in-process)
#   DOT_SUITE_BASE_SETTINGS  DOT's settings module to start from (default tests.settings)
#   PYTHON              interpreter for the virtualenv (default python3)
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1/oauth2_provider/__init__.py" ] || [ ! -d "$1/tests" ]; then
    echo "usage: $0 DOT_CHECKOUT [pytest args...]  (a checkout of django-oauth-toolkit's repository)" >&2
    exit 2
fi
DOT=$(cd "$1" && pwd)
shift
PROJECT=$(cd "$(dirname "$0")/.." && pwd)
HELPERS="$PROJECT/scripts/dot_suite"
TMP=${TMPDIR:-/tmp}
VENV=${DOT_SUITE_VENV:-$TMP/dot-suite-venv}
OUT=${DOT_SUITE_OUT:-$TMP/dot-suite-reports}
WORKERS=${DOT_SUITE_WORKERS:-0}
BASE_SETTINGS=${DOT_SUITE_BASE_SETTINGS:-tests.settings}
mkdir -p "$OUT"

checkout_version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$DOT/oauth2_provider/__init__.py")
if [ -x "$PROJECT/.venv/bin/python" ]; then
    installed=$("$PROJECT/.venv/bin/python" -c 'import oauth2_provider; print(oauth2_provider.__version__)' 2>/dev/null || true)
    if [ -n "$installed" ] && [ "$installed" != "$checkout_version" ]; then
        echo "warning: the checkout is DOT $checkout_version, this project's .venv has DOT $installed" >&2
    fi
fi
echo "DOT checkout: $DOT (version $checkout_version)"

if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
# DOT from the checkout with its test extras (pytest-django, pytest-mock, DRF, ...), and
# token_admin from this project (jwcrypto and the rest come with DOT's own requirements).
"$VENV/bin/pip" install --quiet --disable-pip-version-check -e "$DOT[test]" -e "$PROJECT"

run_pass() {
    local label=$1 settings=$2 validator=$3
    shift 3
    echo "== pass: $label"
    # addopts cleared: DOT's own ask for "-n auto" would take every core of the machine.
    (cd "$DOT" && env PYTHONPATH="$HELPERS:$DOT" DJANGO_SETTINGS_MODULE="$settings" \
        DOT_SUITE_BASE_SETTINGS="$BASE_SETTINGS" DOT_SUITE_VALIDATOR="$validator" \
        "$VENV/bin/python" -m pytest -q -p no:cacheprovider -o addopts= --ignore=tests/e2e \
        -n "$WORKERS" --dist loadfile --junitxml="$OUT/$label.xml" -W ignore "$@" tests \
        >"$OUT/$label.log" 2>&1) || true
    tail -n 1 "$OUT/$label.log"
}

run_pass as-is "$BASE_SETTINGS" dot "$@"
run_pass token_admin dot_suite_settings token_admin "$@"
run_pass dot_validator dot_suite_settings dot "$@"

echo "== passes as-is, fails with token_admin"
"$VENV/bin/python" "$HELPERS/compare.py" "$OUT/as-is.xml" \
    "token_admin=$OUT/token_admin.xml" "dot_validator=$OUT/dot_validator.xml"
