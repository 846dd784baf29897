#!/usr/bin/env bash
# Set up everything Export Gate needs, from nothing but Python 3.11: a virtual environment in .venv with the
# locked dependencies (requirements.lock, made by `uv pip compile` from pyproject.toml) and the project itself.
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "setup: Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2; exit 2; }

# The Spark engine (--engine spark) runs pyspark's jars on Java: Debian's headless JRE when no java is on PATH.
if ! command -v java >/dev/null; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Java for the Spark engine (openjdk-17-jre-headless)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
  else
    echo "setup: no java and no apt-get: install a Java 17 runtime for the Spark engine (the local engine needs none)" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
.venv/bin/uv pip install --quiet --python .venv/bin/python -r requirements.lock
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
# The editable build leaves export_gate.egg-info beside the package in plugins/, which Airflow puts on sys.path:
# its entry points would register the plugin a second time. The installed dist-info is the one that counts.
rm -rf plugins/*.egg-info ./*.egg-info
# uv installs no bytecode and an environment may forbid writing it at import (PYTHONDONTWRITEBYTECODE): without it
# every Python process (the tests start many, a scan's planning imports phonenumbers' metadata) compiles its
# imports again, seconds each. Compiled once here; a second run only checks timestamps.
.venv/bin/python -m compileall -q -j 0 .venv/lib/python3.11/site-packages plugins detectors >/dev/null
echo "setup: .venv is ready ($(.venv/bin/python --version), export-gate $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("export-gate"))'))"
