#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, unit, integration (real Airflow, real SQLite and
# PostgreSQL), and browser tests (Debian's chromium driven by Playwright). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# System packages the tests use: a PostgreSQL server (the tests start their own throwaway cluster) and
# Debian's chromium (Playwright drives it; no browser download).
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "test: installing ${missing[*]} from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
mkdir -p test-artifacts
.venv/bin/pytest -n 2 --dist loadfile "$@"
