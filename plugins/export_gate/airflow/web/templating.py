"""The Jinja2 environment shared by the review pages and the per-export report.

Autoescaping is on for every template: run ids, rule texts and error messages are shown as text, never as
markup, whatever a DAG author or a list file put into them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape


def _thousands(value: object) -> str:
    """1234567 -> '1,234,567'; anything that is not a number is shown as it is (or a dash when missing)."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int | float):
        return f"{value:,}"
    return str(value)


def _describe(item: object) -> str:
    """An obligation, filing or warning as one line, whether the policy gave a string or a mapping."""
    if isinstance(item, dict):
        head = item.get("id") or item.get("mechanism") or item.get("kind")
        text = item.get("text") or item.get("title") or item.get("reference") or item.get("message")
        if head or text:
            return ": ".join(str(part) for part in (head, text) if part)
        return ", ".join(f"{key}: {value}" for key, value in item.items())
    return str(item)


def _untranslated(text: str) -> str:
    """The report file's labels: English (it is read outside the Airflow UI, in no chosen language)."""
    return text


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("export_gate.airflow.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = _thousands
    env.filters["describe"] = _describe
    env.globals["t"] = _untranslated  # the review pages pass their own (export_gate.airflow.web.i18n)
    return env


@cache
def static_text(name: str) -> str:
    """A file shipped in export_gate.airflow.web/static, for inlining into a self-contained report."""
    return resources.files("export_gate.airflow.web").joinpath("static", name).read_text(encoding="utf-8")
