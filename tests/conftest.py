"""Suite-wide guards: nothing may reach the network (principle 4: offline), and every test gets its own
ledger location and secret key so no test writes to a user's real ledger."""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"test tried to reach the network ({self.family.name} {host}); Export Gate must work offline")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("export-gate-home")
    monkeypatch.setenv("EXPORT_GATE_HOME", str(home))
    monkeypatch.setenv("EXPORT_GATE_SECRET_KEY", "test-secret-key-not-for-production")


#: The moment the CLI's recordings run at in tests that pin it: the lists and filings of the hand-made test
#: exports are dated for 2025, and a recording counts into the year it runs in (issue 12 item 4).
PINNED_RUN = "2025-06-01T02:00:00+00:00"


@pytest.fixture
def cli_clock_2025(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin `export-gate evaluate`'s clock (a recording is dated by its run) to 1 June 2025, 10:00 in Shanghai."""
    from datetime import datetime

    monkeypatch.setattr("export_gate.commands.evaluate.now_utc", lambda: datetime.fromisoformat(PINNED_RUN))
