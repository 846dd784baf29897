"""Where the shipped data lives. detectors/ and lists/ are installed as export_gate.detectors and
export_gate.lists (see pyproject.toml), so they are found the same way from a wheel or a checkout."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def detectors_dir() -> Traversable:
    """The shipped detectors/ folder (Presidio YAML recognizers, term lists)."""
    return files("export_gate.detectors")


def lists_dir() -> Traversable:
    """The shipped lists/ folder (one YAML file per national or FTZ list)."""
    return files("export_gate.lists")
