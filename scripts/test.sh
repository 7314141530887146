#!/usr/bin/env bash
# The whole suite. Database-backed tests run on SQLite and, where reachable (always in CI),
# on PostgreSQL and MariaDB too; see tests/conftest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${CI:-}" == "true" ]]; then
  bash scripts/services.sh
fi
# Two workers by default (the machine has two cores and most tests wait on a server); each
# worker has its own test databases (tests/conftest.py). PAYGATE_TEST_WORKERS=0 runs serially.
exec .venv/bin/pytest -q -p no:cacheprovider -n "${PAYGATE_TEST_WORKERS:-2}" --dist loadfile "$@"
