"""The scan engines: one seam, read -> plan -> detect -> people over every cell, two implementations sharing the
detector core (export_gate.detection): ``local`` runs on this machine's cores (engine/local.py), ``spark`` on a
Spark cluster or an embedded local Spark (engine/spark.py). ``export_source`` picks one for the CLI and the
operator; either way the gate (export_gate.gate) takes the same decision from the same report and people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from export_gate.errors import ConfigError

if TYPE_CHECKING:
    from export_gate.reading.sources import ExportSource

#: The engines a gate can scan with.
ENGINES = ("local", "spark")


def export_source(
    engine: str,
    *,
    paths: Sequence[str] = (),
    table: str | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    spark_master: str | None = None,
    spark_ship_package: bool = False,
) -> ExportSource:
    """The export as a source the gate scans with ``engine``: files (both engines) or a table of the Spark
    catalog (``spark`` only). ``spark_master``: local[N], spark://..., yarn or sc://... (Spark Connect);
    ``spark_ship_package``: the executors run this package's code, shipped from here (engine/ship.py)."""
    if engine == "spark":
        from export_gate.engine.spark import SparkSource

        return SparkSource(
            tuple(paths), table=table, fmt=fmt, encoding=encoding, master=spark_master, ship_package=spark_ship_package
        )
    if engine != "local":
        raise ConfigError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if table is not None or spark_master is not None or spark_ship_package:
        raise ConfigError(
            "a table name, a Spark master and --spark-ship-package need the Spark engine (--engine spark)"
        )
    if not paths:
        raise ConfigError("no input given; name at least one file, folder, glob or URL")
    from export_gate.reading.sources import PathSource

    return PathSource(tuple(paths), fmt=fmt, encoding=encoding)
