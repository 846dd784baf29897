"""A real local Spark (``local[2]``) for the Spark engine's tests: one session per test module, small data.

Executors run this environment's Python (the engine sets PYSPARK_PYTHON), so they import the same export_gate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from spark_support import MASTER


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from export_gate.engine.spark import session

    spark = session(MASTER)
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()
