#!/usr/bin/env bash
# The two commands of the README.
#   ./vigie.sh demo   set up, ingest samples/ and open the UI on http://127.0.0.1:8501
#   ./vigie.sh test   set up and run the test suite
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
VENV="${VIGIE_VENV:-$ROOT/.venv}"

case "${1:-}" in
demo)
    scripts/setup.sh
    HOME_DIR="${VIGIE_HOME:-$ROOT/.vigie}"
    SAVED="$HOME_DIR/demo-admin-password"  # the demo's own admin only: delete it for real use
    if [ ! -f "$HOME_DIR/users.sqlite3" ]; then
        # The first admin, cleared for every sample; a password generated once unless given.
        PASSWORD="${VIGIE_ADMIN_PASSWORD:-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(15))')}"
        VIGIE_ADMIN_PASSWORD="$PASSWORD" "$VENV/bin/vigie" init \
            --clearance "TRÈS SECRET" --caveat "SPÉCIAL FRANCE" >/dev/null
        (umask 077 && printf '%s\n' "$PASSWORD" >"$SAVED")
    fi
    mkdir -p "$HOME_DIR/import"  # the UI's default import folder (IMPORT_ROOTS)
    export VIGIE_USER="${VIGIE_USER:-admin}"
    if [ -z "${VIGIE_PASSWORD:-}" ] && [ -f "$SAVED" ]; then
        VIGIE_PASSWORD="$(cat "$SAVED")"
        export VIGIE_PASSWORD
    fi
    "$VENV/bin/vigie" ingest samples/
    [ -f "$SAVED" ] && echo "Sign in as admin with the password in $SAVED"
    exec "$VENV/bin/vigie" ui "${@:2}"
    ;;
test)
    scripts/setup.sh --test
    "$VENV/bin/ruff" check .
    # On every core (up to 4), each test file on one worker, so that its module fixtures
    # (an ingested archive) are built once.
    exec "$VENV/bin/python" -m pytest -n auto --maxprocesses 4 --dist loadfile "${@:2}"
    ;;
*)
    echo "usage: ./vigie.sh demo [--port N] | ./vigie.sh test [pytest arguments]" >&2
    exit 2
    ;;
esac
