"""Links of the review pages, as root-relative paths built from the mount point, never from the request's
Host header or scheme: a forged ``Host: evil.example`` cannot make the page load scripts from elsewhere, a
proxy's ``X-Forwarded-Proto: https`` needs no handling (the browser keeps the scheme it used), and the links
work the same in the Airflow UI's iframe, behind a base path and in a new tab."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request

from export_gate.airflow.links import APP_PREFIX


def path_for(request: Request, name: str, **params: Any) -> str:
    """The path of route ``name`` below this app's mount point. Text parameters are percent-encoded whole
    (a handler id may hold "/", "?", "#" or spaces: the route takes them back as one parameter)."""
    encoded = {key: quote(value, safe="") if isinstance(value, str) else value for key, value in params.items()}
    return request.scope.get("root_path", "").rstrip("/") + str(request.app.url_path_for(name, **encoded))


def airflow_base_path(request: Request) -> str:
    """The Airflow UI's base path: this app's mount point without the app prefix ('/' or e.g. '/airflow/')."""
    return request.scope.get("root_path", "").rstrip("/").removesuffix(APP_PREFIX) + "/"


def here(request: Request) -> str:
    """This request's own path and query, root-relative (for "come back here after signing in")."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
