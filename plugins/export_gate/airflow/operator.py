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

Review (``on_block="review"``): a block does not fail the task at once. The gate itself asks for a review
in Airflow's human-in-the-loop UI (Required Actions) and parks in AWAITING_INPUT; the answer resumes the same
task, which decides again with the reviewer's fact (an approval) or fails (a rejection, a timeout). One task,
not gate -> approval -> re-decide: the decision, the reservation, the XCom the export's callbacks read and the
audit trail stay with the task that made them, and a DAG changes one argument to get reviews.

Nothing heavy happens at DAG parse time: the engine is imported inside ``execute``.

A mapped gate (``ExportGateOperator.partial(...).expand(source=...)``) reserves per map index; its export
tasks get the callbacks when you call ``watch_export(export_task)`` yourself (relationships of a mapped
operator do not pass through this class). Without them its reservations stay pending: still counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from export_gate.airflow.connections import LEDGER_CONN_ID, SECRET_CONN_ID
from export_gate.airflow.links import ReportLink
from export_gate.airflow.review import Amendment
from export_gate.engine import ENGINES
from export_gate.errors import ConfigError, GateError
from export_gate.gate import BLOCK
from export_gate.reading.sources import SQL_CHUNK_ROWS

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

    import jinja2
    import pandas as pd
    import pyarrow as pa
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Asset, XComArg
    from airflow.sdk.definitions._internal.mixins import DependencyMixin
    from airflow.sdk.definitions.edges import EdgeModifier
    from airflow.sdk.types import Operator, RuntimeTaskInstanceProtocol

    from export_gate.airflow.review import Answer
    from export_gate.gate import GateOutcome, GateRequest, RunIdentity

log = logging.getLogger(__name__)

ON_BLOCK = ("fail", "skip", "review")
#: How long a blocked export waits for a reviewer by default; then it stays blocked.
REVIEW_TIMEOUT = timedelta(days=3)
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
    :param count_unanchored: the strict setting (the CLI's ``--count-unanchored``): findings on rows with no
        person they can belong to (no key, name, birth date or strong identifier: product text, site coordinates)
        count as people too, instead of only being listed in the report. Templated: ``"{{ params.strict }}"``
        renders "True" or "False"; anything else fails the gate closed.
    :param recipient: the overseas recipient of the export; a filing on the register covers only its recipients.
    :param uscc: the handler's unified social credit code (checked); every handler id of one entity shares one
        ledger (a ``handler_file`` can carry it too).
    :param warn_ratio: warn past this share of a threshold.
    :param on_block: "fail" (default: AirflowFailException, no retry), "skip" (the task and its downstream
        exports are skipped) or "review": the task waits in Airflow's Required Actions view for a reviewer of
        the deployment (``[export_gate] approver_roles``), who rejects (the gate fails) or approves with a
        reason and the missing fact (a filing, a declared purpose, a corrected subject key), after which the
        gate decides again with it. A gate that could not decide always fails.
    :param review_timeout: how long a review may wait (default 3 days; None: no limit); then the export
        stays blocked and the gate fails.
    :param engine: "local" (default: this worker's cores) or "spark": the scan runs on Spark, where the data
        lives; ``source`` then names paths Spark reads (Parquet, ORC, CSV, JSON Lines), or ``table`` a table of
        its catalog (``db.t``). ``spark_conn_id``: the Airflow connection naming the master (``local[*]``,
        ``spark://...``, ``yarn``, or a ``spark_connect`` connection: ``sc://host:15002``); none: local Spark.
        ``spark_ship_package``: send this worker's export-gate code to the executors (a cluster that has the
        dependencies installed but not export-gate); without it they import their own installed copy.
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
        "recipient",
        "table",
        "count_unanchored",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#fde8c8"
    operator_extra_links = (ReportLink(),)

    def __init__(
        self,
        *,
        list_id: str,
        source: str | os.PathLike[str] | Sequence[str] | Asset | XComArg | pa.Table | pd.DataFrame | None = None,
        sql: str | None = None,
        conn_id: str | None = None,
        sql_parameters: Mapping[str, Any] | Sequence[Any] | None = None,
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
        count_unanchored: bool | str = False,
        warn_ratio: float = 0.8,
        recipient: str | None = None,
        uscc: str | None = None,
        on_block: str = "fail",
        review_timeout: timedelta | None = REVIEW_TIMEOUT,
        secret_conn_id: str = SECRET_CONN_ID,
        ledger_conn_id: str = LEDGER_CONN_ID,
        engine: str = "local",
        spark_conn_id: str | None = None,
        spark_ship_package: bool = False,
        table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_block not in ON_BLOCK:
            raise ValueError(f"on_block must be one of {ON_BLOCK}, not {on_block!r}")
        if review_timeout is not None and not isinstance(review_timeout, timedelta):
            raise ValueError(f"review_timeout must be a datetime.timedelta or None, not {review_timeout!r}")
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
        self.count_unanchored = count_unanchored
        self.warn_ratio = warn_ratio
        self.recipient = recipient
        self.uscc = uscc
        self.on_block = on_block
        self.review_timeout = review_timeout
        self.secret_conn_id = secret_conn_id
        self.ledger_conn_id = ledger_conn_id
        spark_only = table or spark_conn_id or spark_ship_package
        if engine not in ENGINES or (engine != "spark" and spark_only) or (engine == "spark" and sql):
            raise ValueError(
                f"engine must be one of {ENGINES} (not {engine!r}); table=, spark_conn_id= and spark_ship_package= "
                "need engine='spark', which takes paths or a table, not sql"
            )
        self.engine = engine
        self.spark_conn_id = spark_conn_id
        self.spark_ship_package = spark_ship_package
        self.table = table
        self._lineage: tuple[list[str], dict] | None = None
        self._table: pa.Table | pd.DataFrame | None = None

    # -- the ledger follows the export task: callbacks on the tasks directly downstream ---------------------

    def set_downstream(
        self,
        task_or_task_list: DependencyMixin | Sequence[DependencyMixin],
        edge_modifier: EdgeModifier | None = None,
    ) -> None:
        """``gate >> export``, ``gate >> [a, b]``, ``chain(gate, export)``: the exports get the callbacks."""
        super().set_downstream(task_or_task_list, edge_modifier=edge_modifier)
        for task in self.downstream_list:
            if not _is_gate(task):  # a gate after a gate: the export after the last one finishes both
                watch_export(task)

    def update_relative(
        self, other: DependencyMixin, upstream: bool = True, edge_modifier: EdgeModifier | None = None
    ) -> None:
        super().update_relative(other, upstream, edge_modifier=edge_modifier)
        if not upstream:  # ``other`` was set downstream of this gate (e.g. ``export.set_upstream(gate)``)
            for task in getattr(other, "roots", [other]):
                if not _is_gate(task):
                    watch_export(task)

    # -- run -----------------------------------------------------------------------------------------------

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render as usual, but keep a table from an upstream task out of the rendered fields that Airflow
        stores and shows in its UI (they would hold raw rows): the table moves aside, the field says what it was."""
        super().render_template_fields(context, jinja_env)
        from export_gate.reading.sources import is_table

        if is_table(self.source):
            self._table, self.source = self.source, TABLE_PLACEHOLDER

    def execute(self, context: Context) -> dict:
        outcome = self._run_gate(context)
        if outcome.action == BLOCK:
            if self.on_block == "review" and outcome.error is None:
                self._await_review(context, outcome)  # raises TaskAwaitingInput: the task parks for a reviewer
            self._raise_block(outcome)
        return self._let_go(context, outcome)

    def execute_complete(self, context: Context, event: dict[str, Any], blocked: dict[str, Any]) -> dict:
        """Resume after the review (Airflow calls this with the HITL answer): a rejection, a timeout or an
        answer that cannot be acted on keeps the export blocked; an approval runs the gate again with the fact
        it supplies. Either way a "review" audit record says who answered, when, why, and what followed."""
        from export_gate.airflow.review import answer_text, configured_approvers, read_answer

        answer = read_answer(event, configured_approvers())
        log.info("export gate review: %s", answer_text(answer))
        if not answer.approved:
            self._record_review(context, blocked, answer, None)
            raise AirflowFailException(f"{blocked['block_text']}; {answer_text(answer)}: the export stays blocked")
        outcome = self._run_gate(context, answer.amendment)
        self._record_review(context, blocked, answer, outcome.summary())
        if outcome.action == BLOCK:
            raise AirflowFailException(
                f"{answer_text(answer)}, but the gate still blocks with what was supplied: {self._block_text(outcome)}"
            )
        return self._let_go(context, outcome)

    def _run_gate(self, context: Context, amendment: Amendment | None = None) -> GateOutcome:
        """Run the gate for this task instance (with a reviewer's amendment when there is one); never raises."""
        from export_gate.airflow import connections
        from export_gate.gate import RunIdentity, refuse, run_gate

        ti = context["ti"]
        run = RunIdentity(ti.dag_id, ti.run_id, ti.task_id, ti.try_number)
        try:
            ledger_url = connections.ledger_url(self.ledger_conn_id)
        except GateError as exc:  # nowhere to write the audit record: say so, and block
            log.error("EXPORT GATE COULD NOT WRITE ITS AUDIT RECORD (%s); the export is blocked", exc)
            raise AirflowFailException(f"Export blocked by Export Gate: {exc}") from exc
        try:
            request = self._request(context, run, amendment or Amendment(), ledger_url)
        except Exception as exc:  # fail closed, with an audit record, even before the engine could start
            uris: list[str] = []
            outcome = refuse(
                exc,
                handler_id=self.handler_id,
                list_id=self.list_id,
                scenario=self.scenario,
                run=run,
                ledger_url=ledger_url,
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
        return outcome

    def _raise_block(self, outcome: GateOutcome) -> None:
        text = self._block_text(outcome)
        if outcome.error is None and self.on_block == "skip":
            raise AirflowSkipException(text)
        raise AirflowFailException(text)

    def _let_go(self, context: Context, outcome: GateOutcome) -> dict:
        """The export may run: its decision goes to the outlet asset events and, returned, to XCom."""
        summary = outcome.summary()
        log.info("%s", outcome.message)
        for outlet in self.outlets or ():
            context["outlet_events"][outlet].extra["export_gate"] = summary
        return summary

    def _await_review(self, context: Context, outcome: GateOutcome) -> None:
        """Ask the deployment's approvers in Airflow's Required Actions view, and park the task until one
        answers (or the review times out). Nobody may approve: the gate fails now instead of waiting."""
        from airflow.sdk.definitions.param import ParamsDict
        from airflow.sdk.exceptions import TaskAwaitingInput
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        from export_gate.airflow.links import task_report_url
        from export_gate.airflow.review import (
            OPTIONS,
            configured_approvers,
            form_params,
            no_approver_text,
            request_body,
            request_subject,
        )

        approvers = configured_approvers()
        if not approvers:
            raise AirflowFailException(f"{self._block_text(outcome)}; it cannot be reviewed: {no_approver_text()}")
        ti = context["ti"]
        blocked = {**outcome.summary(), "block_text": self._block_text(outcome)}
        params = ParamsDict(form_params())
        upsert_hitl_detail(
            ti_id=ti.id,
            options=OPTIONS,
            subject=request_subject(blocked),
            body=request_body(blocked, task_report_url(ti.dag_id, ti.run_id, ti.task_id)),
            defaults=None,  # no default answer: a timeout leaves the export blocked
            multiple=False,
            params={key: params.get_param(key).serialize() for key in params},
            assigned_users=approvers,
        )
        log.warning(
            "export gate: blocked; waiting for one of %s to review it in Required Actions (timeout %s)",
            ", ".join(user["id"] for user in approvers),
            self.review_timeout,
        )
        raise TaskAwaitingInput(
            method_name="execute_complete", kwargs={"blocked": blocked}, timeout=self.review_timeout
        )

    def _record_review(
        self, context: Context, blocked: dict[str, Any], answer: Answer, redecision: dict[str, Any] | None
    ) -> None:
        """Append the review's audit record; if that fails the export does not run (fail closed)."""
        from export_gate.airflow import connections
        from export_gate.airflow.review import review_record
        from export_gate.records.ledger import Store

        ti = context["ti"]
        run = {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "try_number": ti.try_number}
        try:
            store = Store(
                connections.ledger_url(self.ledger_conn_id), secret_key=connections.secret_key(self.secret_conn_id)
            )
            audit_id = store.append_audit(review_record(blocked, answer, run, redecision))  # chained with the key
        except Exception as exc:
            raise AirflowFailException(
                f"Export blocked: the review's audit record could not be written ({type(exc).__name__}); "
                "the export does not run without it"
            ) from exc
        log.info("export gate review: audit record %s", audit_id)

    def _request(self, context: Context, run: RunIdentity, amendment: Amendment, ledger_url: str) -> GateRequest:
        """The engine's request for this task instance, with a reviewer's amendment applied (raises a GateError
        when the configuration is wrong)."""
        from export_gate.airflow import connections
        from export_gate.gate import GateRequest
        from export_gate.reading.sources import from_airflow
        from export_gate.rules.handler import Handler, load_handler, parse_filing

        handler = (
            load_handler(self.handler_file)
            if self.handler_file
            else Handler(id=self.handler_id, zone=self.zone, ciio=self.ciio, timezone=self.timezone, uscc=self.uscc)
        )
        if self.engine == "spark":
            from export_gate.engine.spark import airflow_source

            source = airflow_source(
                self.source,
                table=self.table,
                fmt=self.fmt,
                encoding=self.encoding,
                conn_id=self.spark_conn_id,
                ship_package=self.spark_ship_package,
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
            purpose=amendment.purpose or self.purpose,
            subject_keys=amendment.subject_keys or tuple(self.subject_keys or ()),
            filings=(
                *(parse_filing(text, "filings=") for text in self.filings or ()),
                *(parse_filing(text, "the approval's filing") for text in filter(None, [amendment.filing])),
            ),
            important_data=self.important_data,
            identity_document_sensitive=self.identity_document_sensitive,
            count_unanchored=_flag(self.count_unanchored, "count_unanchored"),
            recipient=self.recipient,
            warn_ratio=self.warn_ratio,
            ledger_url=ledger_url,
            secret_key=connections.secret_key(self.secret_conn_id),
            reservation=reservation_key(run.dag_id, run.run_id, run.task_id, context["ti"].map_index),
            run=run,
        )

    def _block_text(self, outcome: GateOutcome) -> str:
        where = f"list {self.list_id}" + (f", scenario {self.scenario}" if self.scenario else "")
        return f"Export blocked by Export Gate ({where}): {outcome.message} (audit record {outcome.audit_id})"

    # -- OpenLineage (called by the provider's extractor, only when it is installed) -----------------------

    def get_openlineage_facets_on_complete(self, task_instance: RuntimeTaskInstanceProtocol) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from export_gate.airflow.lineage import input_datasets, run_facet

        if self._lineage is None:
            return OperatorLineage()
        uris, summary = self._lineage
        return OperatorLineage(inputs=input_datasets(uris), run_facets={"exportGate": run_facet(summary)})

    get_openlineage_facets_on_failure = get_openlineage_facets_on_complete


def _flag(value: bool | str, name: str) -> bool:
    """A yes/no argument that may have come through a template, which renders text ("True", "false")."""
    text = str(value).strip().lower()
    if isinstance(value, bool) or text in ("true", "false"):
        return text == "true"
    raise ConfigError(f"ExportGateOperator {name} must be true or false, not {value!r}")


def watch_export(task: Operator) -> None:
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


def _is_gate(task: DependencyMixin) -> bool:
    return issubclass(getattr(task, "operator_class", type(task)), ExportGateOperator)


def _upstream_gates(context: Context) -> list[tuple[Operator, list[dict]]]:
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


def _gate_argument(gate: Operator, name: str, default: str) -> str:
    """One of the gate's arguments (a mapped gate keeps them in partial_kwargs)."""
    return getattr(gate, name, None) or getattr(gate, "partial_kwargs", {}).get(name, default)


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
        ledger_url = connections.ledger_url(_gate_argument(gate, "ledger_conn_id", LEDGER_CONN_ID))
        for reservation in (d.get("reservation") for d in decisions):
            if not reservation:  # the gate reserved nothing (no person in the export)
                continue
            try:
                finish_reservation(
                    reservation,
                    succeeded=succeeded,
                    ledger_url=ledger_url,
                    run=RunIdentity(ti.dag_id, ti.run_id, ti.task_id, ti.try_number),
                    # the gate's key chains the record (without it, confirm and release records are unkeyed)
                    secret_key=connections.secret_key(_gate_argument(gate, "secret_conn_id", SECRET_CONN_ID)),
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
