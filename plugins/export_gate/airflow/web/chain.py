"""Whether the audit chain verifies, for the pages: checked in the background, shown on the list, the record
page and the report, so tampering is flagged wherever a reviewer looks (not only on one record's page)."""

from __future__ import annotations

import threading
import time
from typing import Any


class ChainCheck:
    """``verify()`` walks every record (seconds for 100,000), so it runs in a background thread and pages show
    the newest finished result. A result is stale once a record was added or ``ttl`` seconds passed (an edit in
    place changes neither, so it is caught at the latest then). The page that starts a check waits up to
    ``wait`` seconds for it: enough for a log of a few thousand records to show a fresh result at once."""

    def __init__(self, ttl: float = 60.0, wait: float = 0.5) -> None:
        self.ttl, self.wait = ttl, wait
        self._lock = threading.Lock()
        self._result: Any = None
        self._key: tuple[Any, ...] | None = None
        self._checked_at = 0.0
        self._running: threading.Thread | None = None

    def __call__(self, store: Any) -> tuple[Any, float] | None:
        """The newest result and its age in seconds, or None while the first check is still running."""
        newest, total = store.audit.query(limit=1)
        key = (total, newest[0]["hash"] if newest else None)
        with self._lock:
            stale = key != self._key or time.monotonic() - self._checked_at > self.ttl
            started = None
            if stale and self._running is None:
                started = self._running = threading.Thread(target=self._verify, args=(store, key), daemon=True)
                started.start()
        if started is not None:
            started.join(self.wait)
        with self._lock:
            if self._result is None:
                return None
            return self._result, time.monotonic() - self._checked_at

    def _verify(self, store: Any, key: tuple[Any, ...]) -> None:
        try:
            result = store.audit.verify()
            with self._lock:
                self._result, self._key, self._checked_at = result, key, time.monotonic()
        finally:
            with self._lock:
                self._running = None


def chain_status(checked: tuple[Any, float] | None, record_id: int | None = None) -> dict[str, Any]:
    """Whether the hash chain verifies, for the whole log (``record_id`` None) or for one record: whether a
    break lies at or before it (so it cannot be trusted). ``first_broken`` lets a list mark its rows."""
    if checked is None:
        text = "being verified now; reload the page in a few seconds"
        return {"ok": True, "pending": True, "first_broken": None, "text": text}
    result, age = checked
    when = "just now" if age < 2 else f"{age:.0f} s ago"
    if result.ok:
        text = f"intact: all {result.checked:,} records verify (checked {when})"
        return {"ok": True, "pending": False, "first_broken": None, "text": text}
    broken = result.first_broken
    status = {"ok": False, "pending": False, "first_broken": broken}
    if record_id is None:
        text = f"BROKEN at record #{broken} ({result.reason}): it and every later record cannot be trusted"
        return {**status, "text": text}
    if broken is not None and broken <= record_id:
        return {**status, "text": f"BROKEN at record #{broken} ({result.reason}): this record cannot be trusted"}
    return {**status, "text": f"broken later, at record #{broken} ({result.reason}); the chain up to here verifies"}


def untrusted(status: dict[str, Any], record_id: object) -> bool:
    """Whether a record lies at or after the first broken link of the chain."""
    broken = status.get("first_broken")
    return broken is not None and isinstance(record_id, int) and record_id >= broken
