"""Response headers of every review page and download: nothing is cached (the pages hold audit data a
shared proxy or the browser's disk must not keep), and a Content-Security-Policy lets the pages load only
their own stylesheet and script, post forms only to themselves, and be framed only by the Airflow UI (same
origin). A route that needs another policy (the self-contained report's inline stylesheet) sets its own."""

from __future__ import annotations

import base64
import hashlib

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The pages' policy: own script and stylesheet only, inline SVG charts, no plugins, no other origins.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
)


def report_policy(inline_css: str) -> str:
    """The report's policy: its one inline stylesheet (by hash), no script at all."""
    digest = base64.b64encode(hashlib.sha256(inline_css.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; form-action 'none'; "
        "frame-ancestors 'self'; base-uri 'none'"
    )


class SecurityHeaders:
    """ASGI middleware adding Cache-Control: no-store, the policy and nosniff to every response (a route's
    own Content-Security-Policy wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = PAGE_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
