"""A real Airflow 3.3 deployment for the tests, set up as a user sets one up: PostgreSQL for Airflow's metadata
(``airflow db migrate`` through psycopg2 and asyncpg) and for the gate's ledger, the ledger and the secret key
in Airflow connections added with ``airflow connections add``, the LocalExecutor, and a scheduler, a
dag-processor and an api-server (SimpleAuthManager with known users) as separate processes.

Each process runs in its own process group and is stopped by its pid at the end; nothing else is touched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
SECRET = "deployment-test-secret-key-0123456789"
#: Components started by start(); a triggerer is not needed (on 3.3 a HITL task waits without a trigger).
COMPONENTS = ("scheduler", "dag-processor", "api-server")
#: Task instance states after which nothing more happens to a DAG run's task.
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    """``users`` maps user name to (role, password); ``config`` adds AIRFLOW__... settings."""

    root: Path
    metadata_url: str  # postgresql+psycopg2://... for Airflow's metadata database
    ledger: dict  # host, port, login, schema: the ledger database as the postgres connection names it
    dags_folder: Path
    users: dict[str, tuple[str, str]]
    config: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gate_home(self) -> Path:
        return self.root / "export-gate"

    @property
    def env(self) -> dict[str, str]:
        home = self.root / "airflow-home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EXPORT_GATE", "PYTEST"))}
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.metadata_url,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="2",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(home / "plugins"),
            AIRFLOW__CORE__AUTH_MANAGER=(
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=",".join(f"{u}:{role}" for u, (role, _) in self.users.items()),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
            AIRFLOW__API_AUTH__JWT_SECRET="deployment-test-jwt-secret-" + "0" * 40,
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            # a task's start call to the Execution API timed out at the default 5 s on this shared 2-core
            # machine (the task failed before it ran); the option's description says to raise it under load
            AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
            AIRFLOW__OPENLINEAGE__DISABLED="True",
            AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            EXPORT_GATE_HOME=str(self.gate_home),
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            **self.config,
        )
        return env

    def airflow(self, *args: str, timeout: int = 600) -> str:
        proc = subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args[:2])} exited {proc.returncode}:\n{proc.stdout[-5000:]}")
        return proc.stdout

    def set_up(self) -> None:
        """Migrate the metadata database and add the gate's connections, as the README tells a user to."""
        home = self.root / "airflow-home"
        home.mkdir(parents=True, exist_ok=True)
        self.gate_home.mkdir(parents=True, exist_ok=True)
        (home / "passwords.json").write_text(json.dumps({u: password for u, (_, password) in self.users.items()}))
        self.airflow("db", "migrate")
        ledger = self.ledger
        self.airflow(
            "connections", "add", "export_gate_ledger", "--conn-type", "postgres",
            "--conn-host", ledger["host"], "--conn-port", str(ledger["port"]),
            "--conn-login", ledger["login"], "--conn-schema", ledger["schema"],
        )  # fmt: skip
        self.airflow("connections", "add", "export_gate_secret", "--conn-type", "generic", "--conn-password", SECRET)

    def start(self) -> None:
        for name in COMPONENTS:
            args = ["api-server", "--host", "127.0.0.1", "--port", str(self.port)] if name == "api-server" else [name]
            log = (self.root / f"{name}.log").open("w")
            self.processes[name] = subprocess.Popen(
                [str(VENV_BIN / "airflow"), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one, nothing else is touched
            )
        self._wait(lambda: self._health(), "the api-server to answer", timeout=300)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {name}.log\n{(self.root / f'{name}.log').read_text(errors='replace')[-tail:]}" for name in COMPONENTS
        )

    # -- the REST API, as a signed-in user -----------------------------------------------------------------

    def token(self, user: str) -> str:
        if user not in self._tokens:
            body = {"username": user, "password": self.users[user][1]}
            self._tokens[user] = self.request("POST", "/auth/token", body, user=None)[1]["access_token"]
        return self._tokens[user]

    def request(self, method: str, path: str, body: dict | None = None, *, user: str | None) -> tuple[int, dict]:
        """(status, JSON body) of one API call; errors are returned, not raised."""
        headers = {"Content-Type": "application/json"}
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def api(self, method: str, path: str, body: dict | None = None, *, user: str) -> dict:
        status, answer = self.request(method, path, body, user=user)
        assert status < 300, f"{method} {path} answered {status}: {answer}"
        return answer

    def wait_for_dags(self, dag_ids: list[str], user: str, timeout: float = 300) -> None:
        def parsed() -> bool:
            return all(self.request("GET", f"/api/v2/dags/{d}", user=user)[0] == 200 for d in dag_ids)

        self._wait(parsed, f"the dag-processor to parse {', '.join(dag_ids)}", timeout)

    def task_state(self, dag_id: str, run_id: str, task_id: str, user: str) -> str | None:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        status, answer = self.request("GET", path, user=user)
        return answer.get("state") if status == 200 else None

    def wait_for_task(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], user: str, timeout: float = 900
    ) -> str:
        found: list[str | None] = [None]

        def reached() -> bool:
            found[0] = self.task_state(dag_id, run_id, task_id, user)
            return found[0] in states

        self._wait(reached, f"{dag_id}/{run_id}/{task_id} to reach {sorted(states)} (last: {found})", timeout)
        return str(found[0])

    def _health(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _wait(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{self.logs()}")
            if condition():
                return
            time.sleep(2)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{self.logs()}")
