#!/usr/bin/env bash
# The built wheel in a new project, the way a user meets it (`make wheel-smoke`, run by .ci/run):
#
#  1. build sdist and wheel into a temporary directory (python -m build: the wheel is built from
#     the sdist, so a file the sdist lacks fails here), `twine check --strict`, the PyPI page
#     rendered (scripts/wheel_smoke/long_description.py), the contents of both archives;
#  2. a slice of the test suite run from the unpacked sdist (it ships the complete suite), in the
#     background beside steps 3 and 4 (its result is the last step);
#  3. a new virtualenv on Python 3.13 with the wheel and Django 6.1 (the quick start's
#     `pip install` line, the wheel in place of the name), `django-admin startproject`, exactly
#     the README's quick start applied (scripts/wheel_smoke/quickstart.py), migrate, check
#     (clean: any warning fails; `check --deploy` is printed, not judged);
#  4. a superuser, a user token and a client-credentials app through the ORM, an API client
#     through the `create_api_client` command (scripts/wheel_smoke/seed.py), then `runserver`
#     and, over HTTP (scripts/wheel_smoke/probe.py): the admin and its token pages for the
#     superuser, each API style, DOT's token endpoint, revocation (App.net DELETE token,
#     RFC 7009), the revoked tokens refused, the audit trail.
#
# Prints PASS/FAIL per step and a summary; exits non-zero on the first failing step.
# BUILD_PYTHON (default .venv/bin/python, the `test` extra: build, twine, readme-renderer, pytest)
# builds and runs the sdist's tests; WHEEL_SMOKE_KEEP=1 keeps the temporary directory.
# The quick start's cache is Redis (its LOCATION, 127.0.0.1:6379/0): this run's keys get a prefix
# of their own there (the one setting added to the quick start's) and are deleted at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
here=$repo/scripts/wheel_smoke
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}
started=$(date +%s)
work=$(mktemp -d -t wheel-smoke.XXXXXX)
server=""
sdist_pid=""
venv_python=""
cache_location=""
key_prefix="wheel-smoke-$$-$RANDOM"
results=()

cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; fi
    # The sdist's tests run beside the install: let them finish (under a minute) before removing
    # their directory.
    if [ -n "$sdist_pid" ]; then wait "$sdist_pid" 2>/dev/null; fi
    if [ -n "$cache_location" ]; then
        # This run's keys in the quick start's Redis (rate limits, quotas, verified secrets).
        "$venv_python" -c "
import redis, sys
client = redis.Redis.from_url(sys.argv[1], socket_timeout=2)
keys = list(client.scan_iter(match=sys.argv[2] + ':*'))
if keys: client.delete(*keys)" "$cache_location" "$key_prefix" >/dev/null 2>&1 || true
    fi
    if [ -n "${WHEEL_SMOKE_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
    printf 'cleaned up (%ss)\n' "$(elapsed)"
}
trap cleanup EXIT

elapsed() { echo "$(( $(date +%s) - started ))"; }
summary() {
    printf '\n=== wheel smoke: summary (%ss)\n' "$(elapsed)"
    printf '%s\n' "${results[@]}"
}
# step NAME COMMAND...: runs it, records PASS/FAIL; a failed step ends the run (later steps need it).
step() {
    local name=$1
    shift
    printf '\n=== %s (%ss)\n' "$name" "$(elapsed)"
    if "$@"; then
        results+=("PASS  $name")
    else
        results+=("FAIL  $name")
        summary
        printf 'FAIL: wheel smoke (%ss)\n' "$(elapsed)"
        exit 1
    fi
}
quiet() {  # a command's output only when it fails
    local log=$work/quiet.log
    "$@" > "$log" 2>&1 && return 0
    cat "$log"
    return 1
}

build() {
    # setuptools leaves django_token_admin.egg-info in the checkout; remove it if this run made it
    # (a stale one can carry old file lists into a later sdist).
    local had_egg_info=""
    [ -e django_token_admin.egg-info ] && had_egg_info=1
    quiet "$build_python" -m build --outdir "$work/dist" .
    local status=$?
    [ -n "$had_egg_info" ] || rm -rf django_token_admin.egg-info
    [ "$status" -eq 0 ] || return 1
    sdist=$(ls "$work"/dist/*.tar.gz) && wheel=$(ls "$work"/dist/*.whl) || return 1
    ls -l "$work/dist" | tail -n +2
}

twine_check() {
    "$build_python" -m twine check --strict "$work"/dist/* \
        && "$build_python" "$here/long_description.py" "$wheel"
}

contents() {
    local missing=0 name
    local sdist_files wheel_files
    sdist_files=$(tar tzf "$sdist" | sed 's|^[^/]*/||')
    wheel_files=$("$build_python" -c 'import sys, zipfile; print(*zipfile.ZipFile(sys.argv[1]).namelist(), sep="\n")' "$wheel")
    for name in LICENSE README.md CHANGELOG.md SECURITY.md pyproject.toml manage.py tests/conftest.py \
        tests/settings.py tests/settings_host.py tests/urls.py tests/urls_host.py tests/hostapp/models.py \
        tests/hostapp/migrations/0001_initial.py example_project/settings.py \
        example_project/templates/example_project/landing.html token_admin/py.typed; do
        grep -qx -- "$name" <<< "$sdist_files" || { echo "FAIL  the sdist lacks $name"; missing=1; }
    done
    if grep -E '(^|/)(__pycache__|\.coverage)|\.sqlite3|\.pyc$' <<< "$sdist_files"; then
        echo "FAIL  the sdist holds build or run leftovers (above)"
        missing=1
    fi
    for name in 'django_token_admin-[^/]*\.dist-info/licenses/LICENSE' 'token_admin/py\.typed' \
        'token_admin/migrations/0001_initial\.py' 'token_admin/templates/.*\.html'; do
        grep -qE -- "^$name$" <<< "$wheel_files" || { echo "FAIL  the wheel lacks $name"; missing=1; }
    done
    if grep -vE '^(token_admin/|django_token_admin-[^/]*\.dist-info/)' <<< "$wheel_files"; then
        echo "FAIL  the wheel holds more than token_admin (above)"
        missing=1
    fi
    echo "sdist: $(wc -l <<< "$sdist_files") entries, $(grep -c '^tests/test_.*\.py$' <<< "$sdist_files") test modules; wheel: $(wc -l <<< "$wheel_files") files"
    return $missing
}

sdist_tests() {  # in the background, beside the install (output: $work/sdist-tests.log)
    mkdir -p "$work/sdist" && tar xzf "$sdist" -C "$work/sdist" || return 1
    local root
    root=$(ls -d "$work"/sdist/*/)
    # PYTHONPATH first: the sdist's token_admin and tests, not an installed copy.
    local where
    where=$(cd "$root" && PYTHONPATH=$root "$build_python" -c 'import token_admin; print(token_admin.__file__)')
    case $where in "$root"*) ;; *) echo "FAIL  token_admin came from $where"; return 1 ;; esac
    (cd "$root" && PYTHONPATH=$root "$build_python" -m pytest -q -p no:cacheprovider \
        tests/test_version.py tests/test_adn.py tests/test_example_project.py | tail -n 3) || return 1
    (cd "$root" && PYTHONPATH=$root "$build_python" -m pytest -q -p no:cacheprovider \
        --ds=tests.settings_host tests/test_any_user_model.py | tail -n 3)
}

sdist_tests_result() {
    wait "$sdist_pid"
    local status=$?
    sdist_pid=""
    cat "$work/sdist-tests.log"
    return $status
}

new_venv() {
    local python=""
    if command -v pyenv >/dev/null 2>&1; then
        python=$(ls -d "$(pyenv root)"/versions/3.13.*/bin/python 2>/dev/null | sort -V | tail -n 1)
    fi
    if [ -z "$python" ]; then
        python=$(command -v python3)
        echo "note: no pyenv Python 3.13; using $python"
    fi
    quiet "$python" -m venv "$work/venv" || return 1
    venv_python=$work/venv/bin/python
    local args
    mapfile -t args < <("$build_python" "$here/quickstart.py" --pip-args "$repo/README.md" "$wheel")
    [ "${#args[@]}" -gt 0 ] || return 1
    echo "pip install ${args[*]} 'Django>=6.1,<6.2'"
    quiet "$venv_python" -m pip install --disable-pip-version-check "${args[@]}" 'Django>=6.1,<6.2' || return 1
    "$venv_python" -c 'import sys; print("Python", sys.version.split()[0])'
    "$venv_python" -m pip list --disable-pip-version-check 2>/dev/null \
        | grep -iE '^(django|djangorestframework|django-oauth-toolkit|django-token-admin|oauthlib|redis) '
}

new_project() {
    mkdir -p "$work/project" && cd "$work/project" || return 1
    "$work/venv/bin/django-admin" startproject mysite . || return 1
    "$build_python" "$here/quickstart.py" "$repo/README.md" mysite || return 1
    # Not part of the quick start: keeps this run's keys apart in the quick start's Redis.
    printf '\n# --- wheel smoke only\nCACHES["default"]["KEY_PREFIX"] = "%s"\n' "$key_prefix" >> mysite/settings.py
    # The quick start's cache answers (Django's RedisCache raises when its server does not).
    cache_location=$("$venv_python" manage.py shell -v 0 -c "
from django.conf import settings
from django.core.cache import cache
cache.set('wheel-smoke', 1, 60)
assert cache.get('wheel-smoke') == 1
print(settings.CACHES['default']['LOCATION'])" | tail -n 1) \
        || { echo "FAIL  the quick start's cache (Redis) does not answer"; return 1; }
    echo "the quick start's cache answers at $cache_location (key prefix $key_prefix)"
}

migrate_and_check() {
    cd "$work/project" || return 1
    "$venv_python" manage.py migrate --noinput -v 0 || return 1
    "$venv_python" manage.py check --fail-level WARNING || return 1
    # Reported, not judged: a new startproject is not deployment-ready (DEBUG, SECRET_KEY, ...).
    echo "--- manage.py check --deploy (for information):"
    "$venv_python" manage.py check --deploy 2>&1 | grep -E '^\?|^[a-z_.]+: |System check' | cut -c1-160
    return 0
}

seed() {
    cd "$work/project" || return 1
    seed_json=$("$venv_python" manage.py shell -v 0 -c "$(cat "$here/seed.py")" | tail -n 1) || return 1
    "$venv_python" -c 'import json, sys; json.loads(sys.argv[1])["api_client"]' "$seed_json"
}

serve_and_probe() {
    cd "$work/project" || return 1
    local port
    port=$("$venv_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$venv_python" manage.py runserver --noreload "127.0.0.1:$port" > "$work/server.log" 2>&1 &
    server=$!
    local _
    for _ in $(seq 100); do
        "$venv_python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/admin/login/', timeout=1)" \
            2>/dev/null && break
        kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; return 1; }
        sleep 0.3
    done
    "$venv_python" "$here/probe.py" "http://127.0.0.1:$port" "$seed_json" \
        || { echo "--- server log (tail)"; tail -n 30 "$work/server.log"; return 1; }
}

step "build sdist and wheel" build
step "twine check --strict, and the PyPI page renders with absolute images and links" twine_check
step "archive contents: LICENSE, CHANGELOG, SECURITY, the complete suite in the sdist; only token_admin in the wheel" contents
sdist_tests > "$work/sdist-tests.log" 2>&1 &
sdist_pid=$!
step "a new virtualenv: the wheel with Django 6.1 (the quick start's pip install)" new_venv
step "django-admin startproject + the README's quick start" new_project
step "migrate, check" migrate_and_check
step "a superuser, a user token, apps (ORM), an API client (create_api_client)" seed
step "runserver: the admin and the APIs over HTTP" serve_and_probe
step "a slice of the suite from the unpacked sdist (ran beside the steps above)" sdist_tests_result

summary
printf 'PASS: wheel smoke (%ss)\n' "$(elapsed)"
