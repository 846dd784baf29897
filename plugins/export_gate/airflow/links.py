"""The "Export gate report" button on a gate task in the Airflow UI.

Airflow 3 computes extra links on the worker when the task finishes (even when it failed) and stores the
URL in XCom. The URL does not name an audit record (the worker may not know it when the gate crashed);
it names the task run, and the review app redirects to the newest gate record of that run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from airflow.sdk import BaseOperatorLink, conf

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: Where the review app is mounted in the api-server (the plugin's fastapi_apps url_prefix).
APP_PREFIX = "/export-gate"


def review_base_url() -> str:
    """The review app's URL: below ``[api] base_url`` when the api-server has one, else root-relative."""
    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}{APP_PREFIX}"


def task_report_url(dag_id: str, run_id: str, task_id: str) -> str:
    """The URL that shows the report of the newest gate record of one task run (all map indexes of a
    mapped gate share it: the audit record names the task, not the map index)."""
    query = urlencode({"dag_id": dag_id, "run_id": run_id, "task_id": task_id})
    return f"{review_base_url()}/task-report?{query}"


class ReportLink(BaseOperatorLink):
    """Extra link of the ExportGateOperator to the report of that task run."""

    name = "Export gate report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return task_report_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)
