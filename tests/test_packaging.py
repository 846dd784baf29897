"""The wheel carries detectors/ and lists/: a wheel installed away from the repository must find them
(DESIGN.md: nothing reads them by a path relative to the repository)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import export_gate, json
from export_gate.catalog import load_lists
from export_gate.detect import Detector
from export_gate.resources import detectors_dir
print(json.dumps({
    "package": export_gate.__file__,
    "lists": sorted(load_lists()),
    "detector_files": sorted(p.name for p in detectors_dir().iterdir()),
    "detector_version": Detector().version,
}))
"""


def test_a_wheel_installed_elsewhere_finds_its_detectors_and_lists(tmp_path: Path) -> None:
    source = tmp_path / "source"  # build from a copy: an in-place build leaves build/ and egg-info behind
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("plugins", "detectors", "lists"):
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("export_gate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "export_gate/lists/cn-national-2024.yaml" in names
    assert "export_gate/lists/shanghai-ftz-2024.yaml" in names
    assert "export_gate/detectors/recognizers.yaml" in names
    assert "export_gate/detectors/validators.py" in names
    assert any(name.startswith("export_gate/migrations/versions/") for name in names)

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(probe.stdout)
    assert found["package"].startswith(str(site))  # the wheel's copy, not the checkout
    assert {"cn-national-2024", "shanghai-ftz-2024"} <= set(found["lists"])
    assert "recognizers.yaml" in found["detector_files"]
    assert len(found["detector_version"]) == 16
