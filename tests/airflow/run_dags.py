"""Run the test DAGs with dag.test() in ONE process, so Presidio and spaCy load once for all gates:

    python run_dags.py DAG_ID@RUN_AFTER [DAG_ID@RUN_AFTER ...]

A DAG run's id comes from its run_after, so the same DAG_ID@RUN_AFTER twice re-runs the same DAG run (its
task instances are cleared and run again), and another RUN_AFTER is a new run. A failed DAG run (a blocked
gate) does not stop the next one. Prints "RUN <dag_id> <run_id> <state>" after each.
"""

from __future__ import annotations

import runpy
import sys
from datetime import datetime
from pathlib import Path

DAGS = Path(__file__).parent / "dags"


def main(specs: list[str]) -> int:
    for spec in specs:
        dag_id, _, run_after = spec.partition("@")
        dag = runpy.run_path(str(DAGS / f"{dag_id}.py"))["dag"]
        when = datetime.fromisoformat(run_after)
        run = dag.test(logical_date=when, run_after=when)
        print(f"RUN {dag_id} {run.run_id} {run.state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
