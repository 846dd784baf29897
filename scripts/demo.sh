#!/usr/bin/env bash
# The README's main command. Sets up .venv, then runs the three example export DAGs (dags/) through a real
# Airflow on its embedded SQLite database (dag.test(), as `airflow dags test` does), and prints the gate's
# decisions and the audit trail:
#   pv_case_export_shanghai     blocked   (the Shanghai 2024 FTZ list and its pharmacovigilance threshold were
#                                          superseded by the city-wide 2025 edition on 2026-04-24: fails closed)
#   reinsurance_cession_export  annotated (sensitive information; the standard contract is on file)
#   crm_export_national         blocked   (national rules: sensitive information, no standard contract)
# A blocked DAG run is the expected outcome and does not fail this script; outcomes other than these three do.
# Everything it writes goes to .airflow-demo/ (git-ignored), which it starts afresh each time.
#
# bash scripts/demo.sh --ui   then starts Airflow on the demo's data (api-server, scheduler, dag-processor) and
# prints a reviewer login: the Export Gate review page, the decisions above, and the example DAG
# crm_export_reviewed, whose blocked export that reviewer can approve or reject under Required Actions. It runs
# until Ctrl-C (port: $EXPORT_GATE_DEMO_PORT, default 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
UI=0
case "${1:-}" in
  "") ;;
  --ui) UI=1 ;;
  *) echo "usage: bash scripts/demo.sh [--ui]" >&2; exit 2 ;;
esac

bash scripts/setup.sh

DEMO="$REPO/.airflow-demo"
rm -rf "$DEMO"
mkdir -p "$DEMO/logs"
export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO/plugins"
export AIRFLOW__OPENLINEAGE__DISABLED=True
export EXPORT_GATE_HOME="$DEMO/export-gate"
export EXPORT_GATE_LEDGER_URL="sqlite:///$EXPORT_GATE_HOME/ledger.db"
# Demo mode: subject digests use a public key. A deployment sets the connection export_gate_secret instead.
export EXPORT_GATE_DEMO=1
unset EXPORT_GATE_SECRET_KEY
AIRFLOW="$REPO/.venv/bin/airflow"
GATE="$REPO/.venv/bin/export-gate"

echo "demo: migrating the Airflow metadata database ($AIRFLOW_HOME)"
"$AIRFLOW" db migrate >"$DEMO/logs/db-migrate.log" 2>&1 \
  || { tail -20 "$DEMO/logs/db-migrate.log"; echo "demo: airflow db migrate failed" >&2; exit 2; }

# The three DAG runs go through dag.test() (what `airflow dags test` calls) in ONE process, so Airflow starts and
# Presidio loads once; a run that fails (the blocked export) does not stop the next one.
echo "demo: running the three export DAGs through Airflow (log: .airflow-demo/logs/dags.log)"
"$REPO/.venv/bin/python" - >"$DEMO/logs/dags.log" 2>&1 <<'PY' || { tail -30 "$DEMO/logs/dags.log"; echo "demo: the DAG runs crashed" >&2; exit 2; }
import os
import time
from pathlib import Path

from airflow.dag_processing.dagbag import BundleDagBag

dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
bag = BundleDagBag(dag_folder=dags, bundle_path=dags)
assert not bag.import_errors, bag.import_errors
for dag_id in ("pv_case_export_shanghai", "reinsurance_cession_export", "crm_export_national"):
    start = time.monotonic()
    run = bag.get_dag(dag_id).test()
    print(f"DEMO-RUN {dag_id}: DAG run {run.state} in {time.monotonic() - start:.0f} s", flush=True)
PY
grep '^DEMO-RUN' "$DEMO/logs/dags.log" | sed 's/^DEMO-RUN /demo: /'

echo
echo "== the gate's decisions"
status=0
"$REPO/.venv/bin/python" - <<'PY' || status=$?
"""Print each example DAG's gate decision and fail unless they are: blocked, annotated, blocked."""
import sys

from export_gate.records.ledger import Store

EXPECTED = {
    "pv_case_export_shanghai": "block",
    "reinsurance_cession_export": "annotate",
    "crm_export_national": "block",
}
records, _ = Store().audit.query(event="gate", limit=100)
wrong = []
for dag_id, expected in EXPECTED.items():
    mine = [r for r in records if r.get("dag_id") == dag_id]
    if not mine:
        print(f"{dag_id}: NO GATE RECORD")
        wrong.append(dag_id)
        continue
    record = max(mine, key=lambda r: r["id"])
    decision = record.get("decision") or {}
    counts = (record.get("counts") or {}).get("ytd_after") or {}
    print(f"{dag_id}: {record['action'].upper()} (list {record['list']['id']}, scenario {record.get('scenario')}, "
          f"rule {record.get('rule_id')}; year to date {counts.get('personal', 0):,} personal, "
          f"{counts.get('sensitive', 0):,} sensitive)")
    print(f"    {decision.get('message') or record.get('error')}")
    if record["action"] != expected:
        wrong.append(dag_id)
if wrong:
    print(f"demo: unexpected outcome for {', '.join(wrong)} (expected block, annotate, block)", file=sys.stderr)
    sys.exit(1)
PY

echo
echo "== the audit trail (export-gate audit list)"
"$GATE" audit list
echo
echo "== chain check (export-gate audit verify)"
"$GATE" audit verify || status=1

echo
echo "overseas folder: $EXPORT_GATE_HOME/overseas"
find "$EXPORT_GATE_HOME/overseas" -maxdepth 2 -mindepth 1 2>/dev/null | sed "s|$REPO/||" || true
if [ "$status" -ne 0 ]; then
  echo "demo: FAILED: the outcomes are not blocked / annotated / blocked" >&2
  exit 1
fi
echo "demo: OK: one export annotated, two blocked (one by a superseded list edition); the audit chain is intact"
[ "$UI" -eq 1 ] || exit 0

# -- the UI: Airflow on the demo's metadata database and ledger, with a reviewer who may approve blocked exports
PORT="${EXPORT_GATE_DEMO_PORT:-8080}"
URL="http://127.0.0.1:$PORT"
PY="$REPO/.venv/bin/python"
PASSWORD="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(12))')"
printf '{"reviewer": "%s"}' "$PASSWORD" >"$DEMO/passwords.json"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="reviewer:op"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$DEMO/passwords.json"
export AIRFLOW__EXPORT_GATE__APPROVER_ROLES=op
export AIRFLOW__API__BASE_URL="$URL"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$URL/execution/"
AIRFLOW__API_AUTH__JWT_SECRET="$("$PY" -c 'import secrets; print(secrets.token_hex(32))')"
export AIRFLOW__API_AUTH__JWT_SECRET
up() { "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)" "$URL/api/v2/monitor/health" 2>/dev/null; }
PIDS=()
stop_ui() {
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_ui EXIT
trap 'exit 0' INT TERM
# each component in its own process group (setsid), so Ctrl-C stops exactly these
setsid "$AIRFLOW" api-server --host 127.0.0.1 --port "$PORT" >"$DEMO/logs/api-server.log" 2>&1 &
PIDS+=("$!")
for component in scheduler dag-processor; do
  setsid "$AIRFLOW" "$component" >"$DEMO/logs/$component.log" 2>&1 &
  PIDS+=("$!")
done
echo
echo "demo: starting Airflow on the demo's data (logs: .airflow-demo/logs/)"
for _ in $(seq 1 180); do
  up && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { tail -20 "$DEMO/logs/api-server.log"; echo "demo: the api-server exited" >&2; exit 2; }
  sleep 1
done
up || { echo "demo: the api-server did not answer within 3 minutes (.airflow-demo/logs/api-server.log)" >&2; exit 2; }
cat <<EOF

  Export Gate review page:  $URL/export-gate/   (in Airflow: Browse > Export Gate)
  Sign in as:               reviewer / $PASSWORD
  Try an approval:          trigger the DAG crm_export_reviewed; its export_gate task waits under Required
                            Actions: Reject, or Approve with a reason and the filing
                            standard_contract=SC-EU-2025-0042@2025-03-01

  Ctrl-C stops Airflow.
EOF
wait "${PIDS[0]}"
