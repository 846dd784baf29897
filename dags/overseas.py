"""What the example export jobs share: where a run's outgoing files are made, and the "overseas" folder the
export step copies them to (a stand-in for the overseas safety database, reinsurer or headquarters).

Both live under the Export Gate state folder ($EXPORT_GATE_HOME), one folder per job and run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from export_gate.settings import home_dir


def _run_folder(root: str, job: str, run_id: str) -> Path:
    folder = home_dir() / root / job / re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def outgoing(job: str, run_id: str) -> Path:
    """A fresh folder for the files this run will export."""
    folder = _run_folder("outgoing", job, run_id)
    shutil.rmtree(folder)
    folder.mkdir()
    return folder


def ship_overseas(source: str, job: str, run_id: str) -> str:
    """Copy the exported files to the overseas folder; only reached when the gate let the export go."""
    target = _run_folder("overseas", job, run_id)
    shutil.copytree(source, target, dirs_exist_ok=True)
    return str(target)
