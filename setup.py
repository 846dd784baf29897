"""Package discovery: every package under plugins/ is found, so a new subpackage cannot be left out of the wheel.

pyproject.toml holds the metadata; this file only maps the folders. detectors/ and lists/ sit at the top of the
repository (compliance people edit them) and are installed as the data packages export_gate.detectors and
export_gate.lists.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("plugins"), "export_gate.detectors", "export_gate.lists"],
    package_dir={"": "plugins", "export_gate.detectors": "detectors", "export_gate.lists": "lists"},
)
