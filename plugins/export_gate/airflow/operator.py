"""ExportGateOperator: put it in front of the task that ships a dataset abroad.

    gate = ExportGateOperator(task_id="gate", source="/data/cases/", list_id="shanghai-ftz-2024",
                              scenario="pharmacovigilance", handler_id="acme-sh", zone="shanghai-ftz",
                              subject_keys=["patient_id", "reporter_id"])
    gate >> export_task

Allow / annotate: the task succeeds and returns the decision (XCom), adds it to the extra of its outlet asset
events and to an OpenLineage run facet. Block: the task fails with AirflowFailException (never retried) and a
message that says which rule, the counts against the threshold, the missing mechanism and how to proceed; the
export task does not run. Any error in the gate blocks too (fail closed), with an audit record.

The ledger: the export's subjects are reserved (pending) under "dag_id/run_id/task_id" when the gate allows it,
so a retry of the gate or a re-run of the DAG run replaces its own reservation and never counts a person twice.
The gate attaches callbacks to the tasks directly downstream of it: their success confirms the reservation,
their final failure (after their retries) releases it, and their outlet asset events carry the decision too.

Nothing heavy happens at DAG parse time: the engine is imported inside ``execute``.

A mapped gate (``ExportGateOperator.partial(...).expand(source=...)``) reserves per map index; its export
tasks get the callbacks when you call ``watch_export(export_task)`` yourself (relationships of a mapped
operator do not pass through this class). Without them its reservations stay pending: still counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from export_gate.airflow.connections import LEDGER_CONN_ID, SECRET_CONN_ID
from export_gate.airflow.links import ReportLink
from export_gate.engine import ENGINES
from export_gate.reading.sources import SQL_CHUNK_ROWS

log = logging.getLogger(__name__)

ON_BLOCK = ("fail", "skip")
#: What the rendered ``source`` field shows when the source is a table from an upstream task.
TABLE_PLACEHOLDER = "<table from an upstream task>"


def reservation_key(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The ledger reservation of one gate task in one DAG run (the same for every try and every re-run); each
    instance of a mapped gate has its own."""
    key = f"{dag_id}/{run_id}/{task_id}"
    return key if map_index is None or map_index < 0 else f"{key}/{map_index}"


class ExportGateOperator(BaseOperator):
    """Scan an export, count its data subjects into the year-to-date ledger, and allow, annotate or block it.

    :param source: what is exported: a path, folder, glob or URL (or a list of them), an ObjectStoragePath,
        an Asset (its URI), or a pandas/Arrow table returned by an upstream task (pass ``task.output``).
    :param sql: instead of ``source``, a query whose result is exported; run through ``conn_id``'s common-sql
        hook and streamed in chunks of ``chunk_rows`` rows.
    :param list_id: the list to decide against, e.g. ``cn-national-2024`` or ``shanghai-ftz-2024``.
    :param scenario: the list's scenario, e.g. ``pharmacovigilance``.
    :param handler_id: the data handler whose year-to-date count this export adds to; or ``handler_file``, a
        handler profile (YAML/JSON with id, zone, ciio, timezone, filings).
    :param zone: the handler's registration zone (e.g. ``shanghai-ftz``); ``ciio``: a critical information
        infrastructure operator; ``timezone``: the handler's time zone (the year starts on 1 January there).
    :param subject_keys: columns naming the people (several roles per row allowed); without them people are
        inferred from strong identifiers.
    :param filings: filings / approvals on file, as "KIND=REF[@YYYY-MM-DD]".
    :param purpose: a declared exemption purpose of the list.
    :param important_data: the export holds data notified as important data (a security assessment).
    :param identity_document_sensitive: count an identity document number alone as sensitive (GB/T 35273-2020)
        instead of personal (GB/T 45574-2025, the default).
    :param warn_ratio: warn past this share of a threshold.
    :param on_block: "fail" (default: AirflowFailException, no retry) or "skip" (the task and its downstream
        exports are skipped). A gate that could not decide always fails.
    :param engine: "local" (default: this worker's cores) or "spark": the scan runs on Spark, where the data
        lives; ``source`` then names paths Spark reads (Parquet, ORC, CSV, JSON Lines), or ``table`` a table of
        its catalog (``db.t``). ``spark_conn_id``: the Airflow connection naming the master (``local[*]``,
        ``spark://...``, ``yarn``, or a ``spark_connect`` connection: ``sc://host:15002``); none: local Spark.
    """

    template_fields: Sequence[str] = (
        "source",
        "sql",
        "list_id",
        "scenario",
        "handler_id",
        "handler_file",
        "zone",
        "subject_keys",
        "filings",
        "purpose",
        "table",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#fde8c8"
    operator_extra_links = (ReportLink(),)

    def __init__(
        self,
        *,
        list_id: str,
        source: Any = None,
        sql: str | None = None,
        conn_id: str | None = None,
        sql_parameters: Any = None,
        chunk_rows: int = SQL_CHUNK_ROWS,
        fmt: str | None = None,
        encoding: str | None = None,
        scenario: str | None = None,
        handler_id: str | None = None,
        handler_file: str | None = None,
        zone: str | None = None,
        ciio: bool = False,
        timezone: str = "Asia/Shanghai",
        subject_keys: Sequence[str] = (),
        filings: Sequence[str] = (),
        purpose: str | None = None,
        important_data: bool = False,
        identity_document_sensitive: bool = False,
        warn_ratio: float = 0.8,
        on_block: str = "fail",
        secret_conn_id: str = SECRET_CONN_ID,
        ledger_conn_id: str = LEDGER_CONN_ID,
        engine: str = "local",
        spark_conn_id: str | None = None,
        table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_block not in ON_BLOCK:
            raise ValueError(f"on_block must be one of {ON_BLOCK}, not {on_block!r}")
        if not handler_id and not handler_file:
            raise ValueError("ExportGateOperator needs handler_id (with zone/ciio/timezone) or handler_file")
        self.source = source
        self.sql = sql
        self.conn_id = conn_id
        self.sql_parameters = sql_parameters
        self.chunk_rows = chunk_rows
        self.fmt = fmt
        self.encoding = encoding
        self.list_id = list_id
        self.scenario = scenario
        self.handler_id = handler_id
        self.handler_file = handler_file
        self.zone = zone
        self.ciio = ciio
        self.timezone = timezone
        self.subject_keys = list(subject_keys)
        self.filings = list(filings)
        self.purpose = purpose
        self.important_data = important_data
        self.identity_document_sensitive = identity_document_sensitive
        self.warn_ratio = warn_ratio
        self.on_block = on_block
        self.secret_conn_id = secret_conn_id
        self.ledger_conn_id = ledger_conn_id
        if engine not in ENGINES or (engine != "spark" and (table or spark_conn_id)) or (engine == "spark" and sql):
            raise ValueError(
                f"engine must be one of {ENGINES} (not {engine!r}); table= and spark_conn_id= need engine='spark', "
                "which takes paths or a table, not sql"
            )
        self.engine = engine
        self.spark_conn_id = spark_conn_id
        self.table = table
        self._lineage: tuple[list[str], dict] | None = None
        self._table: Any = None

    # -- the ledger follows the export task: callbacks on the tasks directly downstream ---------------------

    def _set_relatives(self, task_or_task_list: Any, upstream: bool = False, edge_modifier: Any = None) -> None:
        super()._set_relatives(task_or_task_list, upstream=upstream, edge_modifier=edge_modifier)
        if not upstream:
            for task in self.downstream_list:
                if not _is_gate(task):  # a gate after a gate: the export after the last one finishes both
                    watch_export(task)

    def update_relative(self, other: Any, upstream: bool = True, edge_modifier: Any = None) -> None:
        super().update_relative(other, upstream, edge_modifier=edge_modifier)
        if not upstream:  # ``other`` was set downstream of this gate (e.g. ``export.set_upstream(gate)``)
            for task in getattr(other, "roots", [other]):
                if not _is_gate(task):
                    watch_export(task)

    # -- run -----------------------------------------------------------------------------------------------

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as usual, but keep a table from an upstream task out of the rendered fields that Airflow
        stores and shows in its UI (they would hold raw rows): the table moves aside, the field says what it was."""
        super().render_template_fields(context, jinja_env)
        from export_gate.reading.sources import is_table

        if is_table(self.source):
            self._table, self.source = self.source, TABLE_PLACEHOLDER

    def execute(self, context: Context) -> dict:
        from export_gate.airflow import connections
        from export_gate.gate import BLOCK, RunIdentity, refuse, run_gate

        ti = context["ti"]
        run = RunIdentity(ti.dag_id, ti.run_id, ti.task_id, ti.try_number)
        try:
            request = self._request(context, run)
        except Exception as exc:  # fail closed, with an audit record, even before the engine could start
            uris: list[str] = []
            outcome = refuse(
                exc,
                handler_id=self.handler_id,
                list_id=self.list_id,
                scenario=self.scenario,
                run=run,
                ledger_url=connections.ledger_url(self.ledger_conn_id),
            )
        else:
            uris = list(request.source.uris)
            outcome = run_gate(request)
        summary = outcome.summary()
        self._lineage = (uris, summary)
        log.info(
            "export gate: %s (list %s, scenario %s, rule %s); audit record %s",
            outcome.action.upper(),
            self.list_id,
            self.scenario,
            (summary.get("rule") or {}).get("id"),
            outcome.audit_id,
        )
        if outcome.action == BLOCK:
            text = self._block_text(outcome)
            if outcome.error is None and self.on_block == "skip":
                raise AirflowSkipException(text)
            raise AirflowFailException(text)
        log.info("%s", outcome.message)
        for outlet in self.outlets or ():
            context["outlet_events"][outlet].extra["export_gate"] = summary
        return summary

    def _request(self, context: Context, run: Any) -> Any:
        """The engine's request for this task instance (raises a GateError when the configuration is wrong)."""
        from export_gate.airflow import connections
        from export_gate.gate import GateRequest
        from export_gate.reading.sources import from_airflow
        from export_gate.rules.handler import Handler, load_handler, parse_filing

        handler = (
            load_handler(self.handler_file)
            if self.handler_file
            else Handler(id=self.handler_id, zone=self.zone, ciio=self.ciio, timezone=self.timezone)
        )
        if self.engine == "spark":
            from export_gate.engine.spark import airflow_source

            source = airflow_source(
                self.source, table=self.table, fmt=self.fmt, encoding=self.encoding, conn_id=self.spark_conn_id
            )
        else:
            source = from_airflow(
                self._table if self._table is not None else self.source,
                sql=self.sql,
                conn_id=self.conn_id,
                sql_parameters=self.sql_parameters,
                chunk_rows=self.chunk_rows,
                fmt=self.fmt,
                encoding=self.encoding,
            )
        return GateRequest(
            source=source,
            list_id=self.list_id,
            handler=handler,
            as_of=context["dag_run"].run_after,
            scenario=self.scenario,
            purpose=self.purpose,
            subject_keys=tuple(self.subject_keys or ()),
            filings=tuple(parse_filing(text) for text in self.filings or ()),
            important_data=self.important_data,
            identity_document_sensitive=self.identity_document_sensitive,
            warn_ratio=self.warn_ratio,
            ledger_url=connections.ledger_url(self.ledger_conn_id),
            secret_key=connections.secret_key(self.secret_conn_id),
            reservation=reservation_key(run.dag_id, run.run_id, run.task_id, context["ti"].map_index),
            run=run,
        )

    def _block_text(self, outcome: Any) -> str:
        where = f"list {self.list_id}" + (f", scenario {self.scenario}" if self.scenario else "")
        return f"Export blocked by Export Gate ({where}): {outcome.message} (audit record {outcome.audit_id})"

    # -- OpenLineage (called by the provider's extractor, only when it is installed) -----------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from export_gate.airflow.lineage import input_datasets, run_facet

        if self._lineage is None:
            return OperatorLineage()
        uris, summary = self._lineage
        return OperatorLineage(inputs=input_datasets(uris), run_facets={"exportGate": run_facet(summary)})

    get_openlineage_facets_on_failure = get_openlineage_facets_on_complete


def watch_export(task: Any) -> None:
    """Make ``task`` carry its gates' decisions in its outlet asset events, confirm the gates' reservations
    when it succeeds and release them when it fails for good (on_failure_callback runs only after the last
    retry). Idempotent."""
    for attr, callback in (
        ("on_execute_callback", annotate_outlets),
        ("on_success_callback", confirm_gates),
        ("on_failure_callback", release_gates),
    ):
        callbacks = list(getattr(task, attr, None) or [])
        if callback not in callbacks:
            setattr(task, attr, [*callbacks, callback])


def _is_gate(task: Any) -> bool:
    return issubclass(getattr(task, "operator_class", type(task)), ExportGateOperator)


def _upstream_gates(context: Context) -> list[tuple[Any, list[dict]]]:
    """The gates upstream of the running task (directly, or through a chain of gates: gate >> gate >> export),
    each with its decisions (one per map index)."""
    gates, pending, seen = [], list(context["task"].upstream_list), set()
    while pending:
        task = pending.pop(0)
        if task.task_id in seen or not _is_gate(task):
            continue
        seen.add(task.task_id)
        value = context["ti"].xcom_pull(task_ids=task.task_id)
        gates.append((task, [v for v in (value if isinstance(value, list) else [value]) if v]))
        pending.extend(task.upstream_list)
    return gates


def _ledger_conn_id(gate: Any) -> str:
    """The gate's ledger connection (a mapped gate keeps its arguments in partial_kwargs)."""
    return getattr(gate, "ledger_conn_id", None) or getattr(gate, "partial_kwargs", {}).get(
        "ledger_conn_id", LEDGER_CONN_ID
    )


def annotate_outlets(context: Context) -> None:
    """on_execute_callback of an export task: its outlet asset events carry the decision of each gate upstream
    (from the gate's XCom), so whoever consumes the exported asset sees under which rule it left."""
    outlets = context["task"].outlets
    gates = {gate.task_id: decisions for gate, decisions in _upstream_gates(context)}
    if not gates or not outlets:
        return
    decisions = [decision for per_gate in gates.values() for decision in per_gate]
    extra = decisions[0] if len(decisions) == 1 else gates  # several gates or map indexes: by gate task id
    for outlet in outlets:
        context["outlet_events"][outlet].extra["export_gate"] = extra


def confirm_gates(context: Context) -> None:
    """on_success_callback of an export task: its data left, so its gates' subjects are confirmed."""
    _finish_gates(context, succeeded=True)


def release_gates(context: Context) -> None:
    """on_failure_callback of an export task: nothing left, so its gates' pending subjects are released."""
    _finish_gates(context, succeeded=False)


def _finish_gates(context: Context, *, succeeded: bool) -> None:
    from export_gate.airflow import connections
    from export_gate.gate import RunIdentity, finish_reservation

    ti = context["ti"]
    for gate, decisions in _upstream_gates(context):
        ledger_url = connections.ledger_url(_ledger_conn_id(gate))
        for reservation in (d.get("reservation") for d in decisions):
            if not reservation:  # the gate reserved nothing (no person in the export)
                continue
            try:
                finish_reservation(
                    reservation,
                    succeeded=succeeded,
                    ledger_url=ledger_url,
                    run=RunIdentity(ti.dag_id, ti.run_id, ti.task_id, ti.try_number),
                )
            except Exception as exc:  # the reservation stays pending: still counted, which is the safe side
                log.error(
                    "export gate: could not %s reservation %s (%s: %s); it stays pending and keeps counting",
                    "confirm" if succeeded else "release",
                    reservation,
                    type(exc).__name__,
                    exc,
                )
            else:
                log.info("export gate: %s reservation %s", "confirmed" if succeeded else "released", reservation)
