#!/usr/bin/env bash
# The whole suite. Database-backed tests run on SQLite and, where reachable (always in CI),
# on PostgreSQL and MariaDB too; see tests/conftest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${CI:-}" == "true" ]]; then
  bash scripts/services.sh
fi
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
