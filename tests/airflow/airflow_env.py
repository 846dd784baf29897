"""Where the operator tests' Airflow lives and how to run its commands (the fixture is in conftest.py).
Airflow reads its configuration from the environment when it is imported, so every Airflow step runs in a
subprocess with this environment."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
VENV_BIN = Path(sys.executable).parent
SECRET = "airflow-test-secret-key-0123456789"
#: The key of the connection export_gate_secret_alt (used with the ledger of export_gate_ledger_alt).
ALT_SECRET = "airflow-connection-secret-key-9876543210"
#: A PostgreSQL URL where nothing listens: the "database down" case.
LEDGER_DOWN = "postgresql+psycopg://gate:gate@127.0.0.1:9/ledger?connect_timeout=2"


@dataclass(frozen=True)
class AirflowEnv:
    home: Path
    data: Path
    gate_home: Path
    env: dict[str, str]

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.gate_home / 'ledger.db'}"

    @property
    def alt_ledger(self) -> Path:
        """The ledger of the connection export_gate_ledger_alt."""
        return self.alt_ledger_in(self.gate_home)

    @staticmethod
    def alt_ledger_in(gate_home: Path) -> Path:
        return gate_home / "alt-ledger.db"

    def airflow(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        """Run the airflow CLI; stdout and stderr together (they hold the task logs of ``dags test``)."""
        proc = subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-5000:]}")
        return proc
