"""The Airflow plugin: the review app in the api-server at /export-gate, with a Browse menu entry that shows
it inside the Airflow UI. (The report link of the gate operator needs no registration: Airflow 3 stores
extra links in XCom when the task finishes.)

Registered through the ``airflow.plugins`` entry point in pyproject.toml. Loading it builds the FastAPI app
but opens no database: the ledger is opened on the first request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from export_gate.airflow.links import APP_PREFIX
from export_gate.airflow.web.app import create_app


class ExportGatePlugin(AirflowPlugin):
    name = "export_gate"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": create_app(), "url_prefix": APP_PREFIX, "name": "Export Gate review"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Export Gate",
            "href": APP_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
            "url_route": "export_gate",
        }
    ]
