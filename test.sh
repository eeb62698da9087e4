#!/usr/bin/env bash
# Set up (first time) and run the test suite: `./test.sh` (extra arguments go to pytest).
# SQLite by default; MEDPULSE_TEST_DB=postgresql+psycopg://postgres@127.0.0.1:5432/postgres runs the
# same suite against PostgreSQL (a throwaway database is created and dropped).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/pytest" ] || [ pyproject.toml -nt "$VENV/.installed-test" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e ".[test]"
  touch "$VENV/.installed-test"
fi
export PATH="$VENV/bin:$PATH"
exec "$VENV/bin/python" -m pytest -q "$@"
