"""The gate's decision as an OpenLineage run facet. Imported only when the OpenLineage provider asks the
operator for lineage, so the operator works without the provider."""

from __future__ import annotations

from attrs import define
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet


@define
class ExportGateRunFacet(RunFacet):
    """What the gate decided for this run: action, mechanism, rule, counts and margins (no raw values)."""

    action: str
    mechanism: str | None
    ruleId: str | None
    listId: str | None
    listVersion: str | None
    scenario: str | None
    counts: dict | None
    margins: list | None
    obligations: list | None
    auditId: int | None
    error: str | None


def run_facet(summary: dict) -> ExportGateRunFacet:
    """The facet of a gate outcome summary (GateOutcome.summary())."""
    listing = summary.get("list") or {}
    return ExportGateRunFacet(
        action=summary["action"],
        mechanism=summary.get("mechanism"),
        ruleId=(summary.get("rule") or {}).get("id"),
        listId=listing.get("id"),
        listVersion=listing.get("version"),
        scenario=summary.get("scenario"),
        counts=summary.get("counts"),
        margins=summary.get("margins"),
        obligations=summary.get("obligations"),
        auditId=summary.get("audit_id"),
        error=summary.get("error"),
    )


def input_datasets(uris: list[str]) -> list[Dataset]:
    """OpenLineage datasets for the scanned locations, named by the naming spec: local files are namespace
    ``file`` with the absolute path; ``scheme://authority/path`` is namespace ``scheme://authority``, name ``path``."""
    datasets = []
    for uri in uris:
        if uri.startswith(("<", "sql:")):  # an in-memory table or a query: no dataset name to give
            continue
        scheme, sep, rest = uri.partition("://")
        if not sep or scheme == "file":
            datasets.append(Dataset(namespace="file", name=rest if sep else uri))
            continue
        authority, _, path = rest.partition("/")
        datasets.append(Dataset(namespace=f"{scheme}://{authority}", name=path))
    return datasets
