"""The wheel is what users install: built from pyproject.toml/setup.py, installed into a fresh virtual environment
(dependencies from requirements.lock, nothing from the checkout), it must carry every subpackage, detectors/ and
lists/, run the ``export-gate`` commands from outside the checkout, and give Airflow its plugin and a loadable
example DAG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"

PROBE = """
import export_gate, json
from export_gate.rules.lists import load_lists
from export_gate.detection.detect import Detector
from export_gate.resources import detectors_dir
from export_gate.samples.exports import generate
generate("crm", 300, "sample", seed=3)
print(json.dumps({
    "package": export_gate.__file__,
    "lists": sorted(load_lists()),
    "detector_files": sorted(p.name for p in detectors_dir().iterdir()),
    "detector_version": Detector().version,
}))
"""

AIRFLOW_PROBE = """
import json, sys
from pathlib import Path
from airflow import plugins_manager
from airflow.dag_processing.dagbag import BundleDagBag
names = [p["name"] for p in plugins_manager.get_plugin_info()]
apps = [a["url_prefix"] for a in plugins_manager.get_fastapi_plugins()[0]]
dags = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=dags, bundle_path=dags)
print(json.dumps({"plugins": names, "apps": apps, "dags": sorted(bag.dag_ids), "errors": bag.import_errors}))
"""


def _python_packages(root: Path) -> set[str]:
    """Every package (folder with __init__.py) under plugins/, as a dotted name."""
    return {".".join(init.parent.relative_to(root).parts) for init in root.rglob("__init__.py")}


#: The optional Spark engine's packages (the ``spark`` extra): a user of the core wheel installs none of them, and
#: pyspark is an 850 MB source build that would dominate this test's time and disk.
SPARK_ONLY = ("pyspark", "py4j")


def _core_lock(folder: Path) -> Path:
    """requirements.lock without the Spark extra's own packages, exact pins otherwise."""
    lines = (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith(tuple(f"{name}==" for name in SPARK_ONLY))]
    path = folder / "core.lock"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel from a copy of the checkout and install it into a new virtual environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # build from a copy: an in-place build leaves build/ and egg-info behind
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("plugins", "detectors", "lists"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheels = tmp / "wheels"
    build = ("wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source))
    subprocess.run(
        [sys.executable, "-m", "pip", *build],
        check=True,
        cwd=tmp,
    )
    (wheel,) = wheels.glob("export_gate-*.whl")
    venv = tmp / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, cwd=tmp)
    python = venv / "bin" / "python"
    lock = ["-r", str(_core_lock(tmp))]
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(python), *lock], check=True, cwd=tmp)
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel)], check=True)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return {"wheel": wheel, "venv": venv, "cwd": elsewhere, "home": tmp / "home"}


def _run(installed: dict[str, Path], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{installed['venv'] / 'bin'}:/usr/bin:/bin",
        "HOME": str(installed["home"]),
        "EXPORT_GATE_HOME": str(installed["home"] / "gate"),
        "EXPORT_GATE_SECRET_KEY": "packaging-test-key-not-for-production",
        "AIRFLOW_HOME": str(installed["home"] / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    return subprocess.run(
        list(args), cwd=installed["cwd"], env=env, capture_output=True, text=True, check=check, timeout=600
    )


def test_the_wheel_carries_every_package_and_the_data(installed: dict[str, Path]) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for package in _python_packages(REPO / "plugins"):
        assert f"{package.replace('.', '/')}/__init__.py" in names, f"{package} is missing from the wheel"
    assert "export_gate/commands/scan.py" in names
    assert "export_gate/lists/cn-national-2024.yaml" in names
    assert "export_gate/lists/shanghai-ftz-2024.yaml" in names
    assert "export_gate/detectors/recognizers.yaml" in names
    assert "export_gate/airflow/web/templates/base.html" in names
    assert any(name.startswith("export_gate/records/migrations/versions/") for name in names)


def test_the_installed_package_finds_its_detectors_and_lists(installed: dict[str, Path]) -> None:
    probe = _run(installed, "python", "-c", PROBE)
    found = json.loads(probe.stdout)
    assert found["package"].startswith(str(installed["venv"]))  # the wheel's copy, not the checkout
    assert {"cn-national-2024", "shanghai-ftz-2024"} <= set(found["lists"])
    assert "recognizers.yaml" in found["detector_files"]
    assert len(found["detector_version"]) == 16


def test_the_installed_cli_runs_every_step(installed: dict[str, Path]) -> None:
    assert "evaluate" in _run(installed, "export-gate", "--help").stdout
    assert "cn-national-2024" in _run(installed, "export-gate", "lists").stdout
    _run(installed, "python", "-c", PROBE)  # writes ./sample
    scan = json.loads(_run(installed, "export-gate", "scan", "sample", "--format", "json").stdout)
    assert scan["subjects"]["personal"] > 0
    evaluate = _run(
        installed,
        "export-gate", "evaluate", "sample", "--list", "cn-national-2024",
        "--handler-id", "pkg-test", "--filing", "standard_contract=SC-PKG-1@2026-01-02", "--record", "--format", "json",
    )  # fmt: skip
    result = json.loads(evaluate.stdout)
    assert result["decision"]["action"] == "annotate"  # sensitive people, a standard contract on file
    assert result["recorded"] and result["audit_id"]
    assert "chain intact" in _run(installed, "export-gate", "audit", "verify").stdout


def test_airflow_loads_the_plugin_and_an_example_dag_from_the_installed_package(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    for name in ("crm_export_national.py", "overseas.py"):
        shutil.copy(REPO / "dags" / name, dags / name)
    _run(installed, "airflow", "db", "migrate")
    loaded = json.loads(_run(installed, "python", "-c", AIRFLOW_PROBE, str(dags)).stdout.strip().splitlines()[-1])
    assert "export_gate" in loaded["plugins"]
    assert "/export-gate" in loaded["apps"]  # the review app, built from the installed package
    assert loaded["errors"] == {}
    assert "crm_export_national" in loaded["dags"]
    assert os.path.basename(installed["wheel"]).startswith("export_gate-")
