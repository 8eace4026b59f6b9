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
    "$VENV/bin/vigie" ingest samples/
    exec "$VENV/bin/vigie" ui "${@:2}"
    ;;
test)
    scripts/setup.sh
    "$VENV/bin/ruff" check .
    exec "$VENV/bin/python" -m pytest "${@:2}"
    ;;
*)
    echo "usage: ./vigie.sh demo [--port N] | ./vigie.sh test [pytest arguments]" >&2
    exit 2
    ;;
esac
