"""Who may read the review pages: signed-in Airflow users whom the auth manager lets read DAG audit logs.

A plugin app mounted in the api-server is NOT protected by Airflow by default, so every route depends on
``require_reviewer``. It reuses the api-server's own user resolution (the JWT in the ``_token`` cookie the UI
sets, or an ``Authorization: Bearer`` header) and asks the configured auth manager (Simple, FAB, Keycloak, ...)
the question it already knows: may this user GET the audit log of DAGs? No session: 401; a user without
that permission or an invalid token: 403. The export audit log spans DAGs, so the check is for DAGs in
general, not one DAG: a user who can read only some DAGs does not see the page (fail closed).
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, HTTPException, status


def require_reviewer(user: GetUserDep) -> BaseUser:
    """The signed-in user, if the auth manager lets them read DAG audit logs; else 403."""
    allowed = get_auth_manager().is_authorized_dag(method="GET", access_entity=DagAccessEntity.AUDIT_LOG, user=user)
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Forbidden: reading the export audit log needs permission to read DAG audit logs",
        )
    return user


ReviewerDep = Annotated[BaseUser, Depends(require_reviewer)]


def login_url(next_url: str) -> str | None:
    """Where the configured auth manager signs users in, returning to ``next_url``; None if it cannot say."""
    try:
        return get_auth_manager().get_url_login(next_url=next_url)
    except Exception:  # an auth manager that is not initialised or has no login page: show no link
        return None
