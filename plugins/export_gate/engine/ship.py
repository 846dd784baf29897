"""Ship this gate's own code to Spark's executors, for a cluster that has export-gate's dependencies but not
export-gate (or another version of it).

The package goes as one zip of ``export_gate`` exactly as installed here (its modules, and the detector and
list files that live beside them: ``export_gate.detectors``, ``export_gate.lists``), which Python imports from
the zip. A Spark Connect session gets it with ``addArtifacts(pyfile=True)``, a classic session with
``SparkContext.addPyFile``; spark-submit takes the same zip with ``--py-files``:

    python -m export_gate.engine.ship export_gate.zip

The executors put a shipped zip before their installed packages, so they run the driver's code; the detector
version check of the Spark engine still stops a scan whose executors run other detectors. The dependencies
(pyarrow, presidio-analyzer, spaCy and its model, ...) are not shipped: they hold compiled code for the
cluster's platform and belong in the executors' environment.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from export_gate.resources import detectors_dir, lists_dir

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The session setting that records which zip a session already has (a session takes each artifact once).
SHIPPED_CONF = "spark.export_gate.shipped"


def package_files() -> Iterator[tuple[str, bytes]]:
    """(name in the zip, content) of every file of the installed package, in name order. The data packages are
    read where they are installed, which in a development install (pip install -e) is outside the package's
    folder."""
    trees = {
        "export_gate": files("export_gate"),
        "export_gate/detectors": detectors_dir(),
        "export_gate/lists": lists_dir(),
    }
    found: dict[str, bytes] = {}
    for prefix, tree in trees.items():
        for name, entry in _walk(tree, prefix):
            found.setdefault(name, entry.read_bytes())
    yield from sorted(found.items())


def _walk(tree: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for entry in tree.iterdir():
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _walk(entry, name)
        elif not entry.name.endswith((".pyc", ".pyo")):
            yield name, entry


def write_zip(path: Path, contents: Iterable[tuple[str, bytes]] | None = None) -> Path:
    """Write the package's zip (``contents``, default ``package_files()``) to ``path``; returns it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in package_files() if contents is None else contents:
            archive.writestr(name, content)
    return path


@functools.cache
def session_zip() -> Path:
    """This process's zip for shipping to sessions, named by a digest of its content (the same code ships under
    the same name); written once, in a folder removed when the process ends."""
    contents = list(package_files())  # read once: named by, then written from, the same bytes
    digest = hashlib.sha256()
    for name, content in contents:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    folder = Path(tempfile.mkdtemp(prefix="export-gate-ship-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return write_zip(folder / f"export_gate-{digest.hexdigest()[:16]}.zip", contents)


def ship(spark: SparkSession) -> None:
    """Give ``spark``'s executors this package (once per session)."""
    path = session_zip()
    if spark.conf.get(SHIPPED_CONF, None) == path.name:
        return
    if type(spark).__module__.startswith("pyspark.sql.connect"):  # a Spark Connect session
        spark.addArtifacts(str(path), pyfile=True)
    else:
        spark.sparkContext.addPyFile(str(path))
    spark.conf.set(SHIPPED_CONF, path.name)


def main(argv: list[str] | None = None) -> int:
    """``python -m export_gate.engine.ship OUT.zip``: the zip for spark-submit's ``--py-files``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].endswith(".zip"):
        print("usage: python -m export_gate.engine.ship OUT.zip", file=sys.stderr)
        return 2
    print(write_zip(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
