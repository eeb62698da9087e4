#!/usr/bin/env bash
# Set up (first time) and run medpulse: `./run.sh` (extra arguments go to `medpulse run`).
# Without Slack tokens it explains how to connect and runs the local demo.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/medpulse" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e .
  touch "$VENV/.installed"
fi
exec "$VENV/bin/medpulse" run "$@"
