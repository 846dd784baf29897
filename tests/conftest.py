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


@pytest.fixture
def cli_clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin `export-gate evaluate`'s clock to the test module's ``CLI_CLOCK`` (ISO time): a recording counts into
    the year it runs in (issue 12 item 4), and the lists and filings of a module's exports are dated for it."""
    from datetime import datetime

    moment = datetime.fromisoformat(request.module.CLI_CLOCK)
    monkeypatch.setattr("export_gate.commands.evaluate.now_utc", lambda: moment)
