"""Thin Airflow operators over the marketing_core library.

Each operator parses its (templated) arguments, calls one library function and returns a
small JSON-able summary, which Airflow pushes to XCom as ``return_value``. Every
``execute`` logs one JSON metrics line (``capture_metrics``). Nothing heavy happens at
import or in ``__init__``: the library is imported inside ``execute``.

Credentials: an Airflow ``aws`` connection (``aws_conn_id``; MinIO/SeaweedFS through
``endpoint_url`` in its extras), else the standard AWS environment variables, else the
store URL given (``file://`` for the embedded local bucket).

Fail fast: an error that a retry cannot fix (``fail_fast``: bad arguments, an unusable
contract, an unreadable file, an unsafe key, a conflict, rejected credentials) fails the
task at once, without retries, so it alerts once; transient storage faults (5xx,
timeouts) raise ``StorageError`` and are retried.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from airflow.sdk import BaseOperator

from .metrics import capture_metrics

__all__ = [
    "DbtOperator",
    "GenerateDatasetOperator",
    "LoadRawDayOperator",
    "UploadFilesOperator",
    "ValidateFileOperator",
    "deterministic_errors",
    "fail_fast",
    "resolve_store",
    "run_ds",
]

F = TypeVar("F", bound=Callable[..., Any])


def deterministic_errors() -> tuple[type[BaseException], ...]:
    """The marketing_core errors that a retry of the same task cannot fix: the same
    arguments, contract, file and bucket give the same error. ``AuthenticationError``
    too: a rejected key needs a person, not three more attempts over half an hour; and
    ``ConflictError``: the object at the key stays different. Plain ``StorageError``
    (server errors, timeouts, connection resets), ``CancelledError`` and
    ``InternalError`` keep Airflow's retries."""
    from marketing_core import exceptions as mc

    return (
        mc.InvalidArgumentError,
        mc.ContractError,
        mc.ValidationError,
        mc.FileError,
        mc.InvalidKeyError,
        mc.InvalidBucketError,
        mc.ConflictError,
        mc.AuthenticationError,
    )


def fail_fast(execute: F) -> F:
    """Decorates an operator's ``execute``: a deterministic error (``deterministic_errors``)
    is re-raised as ``AirflowFailException``, which fails the task without retries (one
    attempt, one failure alert); every other error propagates unchanged and is retried."""

    @functools.wraps(execute)
    def wrapper(self, context):
        try:
            return execute(self, context)
        except deterministic_errors() as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc} (not retried: a retry gives the same error)") from exc

    return wrapper  # type: ignore[return-value]


def _argument(name: str, convert: Callable[[Any], Any], value: Any) -> Any:
    """``convert(value)`` for the (rendered) argument ``name``; a value it cannot convert
    is an ``InvalidArgumentError`` naming the argument, so it fails fast too."""
    from marketing_core.exceptions import InvalidArgumentError

    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidArgumentError):
            raise
        raise InvalidArgumentError(f"{name}: cannot use {value!r}: {exc}") from exc


def run_ds(ds: str | None, context: Mapping[str, Any]) -> str:
    """The day a task works on: ``ds`` when given, else the run's logical date, else the
    date the run was due (Airflow 3 manual runs may have no logical date)."""
    if ds:
        return str(ds)
    if context.get("ds"):
        return str(context["ds"])
    run = context.get("dag_run")
    when = getattr(run, "run_after", None) or _dt.datetime.now(_dt.timezone.utc)
    return when.date().isoformat()


def resolve_store(store: str | None, aws_conn_id: str | None) -> Any:
    """A StoreConfig from the Airflow connection when ``aws_conn_id`` is set, else from
    ``store`` (a URL; ``s3://`` reads endpoint and credentials from the environment)."""
    from marketing_core import storage

    if aws_conn_id:
        return storage.store_from_airflow_connection(aws_conn_id)
    return storage.as_store(store or None)


def _optional_float(value: Any) -> float | None:
    return None if value in (None, "", "None") else float(value)


class GenerateDatasetOperator(BaseOperator):
    """Writes one marketing dataset for one day (``marketing_core.generate``).

    Idempotent: a file already written with the same parameters is kept (``skipped`` in
    the summary) unless ``force``.
    """

    template_fields: Sequence[str] = ("ds", "out_dir", "scale_factor", "seed", "defects", "file_format")
    ui_color = "#e8f4fa"

    def __init__(
        self,
        *,
        dataset: str,
        out_dir: str,
        ds: str | None = None,
        scale_factor: float | str = 1.0,
        seed: int | str = 42,
        defects: Mapping[str, float] | str | None = None,
        file_format: str | None = None,
        force: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.out_dir = out_dir
        self.ds = ds
        self.scale_factor = scale_factor
        self.seed = seed
        self.defects = defects
        self.file_format = file_format
        self.force = force

    @fail_fast
    @capture_metrics
    def execute(self, context: Any) -> dict[str, Any]:
        from marketing_core import generation

        result = generation.generate(
            self.dataset,
            run_ds(self.ds, context),
            self.out_dir,
            scale_factor=_argument("scale_factor", float, self.scale_factor),
            seed=_argument("seed", int, self.seed),
            format=self.file_format or None,
            force=self.force,
            defects=_argument("defects", generation.parse_defects, self.defects),
        )
        return generation.result_summary(result)


class ValidateFileOperator(BaseOperator):
    """Validates one file against its dataset's contract (``marketing_core.validate``):
    valid rows, quarantined rows and a JSON report land in ``out_dir`` in the bucket
    layout; checks and failure signatures are recorded in the metadata store. Bad rows
    never fail the task; an unreadable file does (``ValidationError``).

    The summary's ``new_failures`` lists the checks whose signature is new: what
    ``notify_dq_failure`` alerts on.
    """

    template_fields: Sequence[str] = ("path", "ds", "out_dir", "references", "metadata", "contract", "output_format")
    ui_color = "#fdf1e6"

    def __init__(
        self,
        *,
        path: str,
        dataset: str | None = None,
        out_dir: str,
        ds: str | None = None,
        references: str | None = None,
        metadata: str | None = None,
        contract: str | None = None,
        output_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.dataset = dataset
        self.out_dir = out_dir
        self.ds = ds
        self.references = references
        self.metadata = metadata
        self.contract = contract
        self.output_format = output_format

    @fail_fast
    @capture_metrics
    def execute(self, context: Any) -> dict[str, Any]:
        from marketing_core import validation

        report = validation.validate(
            self.path,
            self.dataset,
            ds=run_ds(self.ds, context),
            contract=self.contract or None,
            out_dir=self.out_dir,
            references=self.references or None,
            metadata=self.metadata or None,
            output_format=self.output_format or None,
        )
        if report.failed_checks:
            self.log.warning(
                "%s: %d of %d rows quarantined; failed checks: %s", report.dataset, report.rows_invalid,
                report.rows_in, ", ".join(f"{c.label}={c.rows_failed}" for c in report.failed_checks),
            )
        return report.summary()


class UploadFilesOperator(BaseOperator):
    """Uploads the files under ``root`` matching ``patterns`` to ``bucket``, with keys that
    mirror their paths under ``root`` (``marketing_core.upload_tree``). Idempotent by
    content: a rerun skips every object already there with the same MD5, so it sends
    nothing. A conflict (same key, other content) fails the task under ``policy="refuse"``.
    """

    template_fields: Sequence[str] = ("root", "patterns", "bucket", "store", "aws_conn_id", "metadata", "prefix")
    ui_color = "#eef7ee"

    def __init__(
        self,
        *,
        root: str,
        patterns: Sequence[str] = ("**/*",),
        bucket: str,
        store: str | None = None,
        aws_conn_id: str | None = None,
        prefix: str | None = None,
        policy: str = "refuse",
        concurrency: int = 16,
        metadata: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.patterns = list(patterns)
        self.bucket = bucket
        self.store = store
        self.aws_conn_id = aws_conn_id
        self.prefix = prefix
        self.policy = policy
        self.concurrency = concurrency
        self.metadata = metadata

    @fail_fast
    @capture_metrics
    def execute(self, context: Any) -> dict[str, Any]:
        from marketing_core import storage

        report = storage.upload_tree(
            self.root,
            self.patterns,
            prefix=self.prefix or None,
            bucket=self.bucket,
            store=resolve_store(self.store, self.aws_conn_id),
            policy=self.policy,
            concurrency=self.concurrency,
            metadata=self.metadata or None,
        )
        report.raise_for_status()
        summary = report.summary()
        counts = summary["counts"]
        self.log.info("%s: %s", report.store, ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "no files")
        return {**summary, "rows_in": len(report), "rows_out": counts["uploaded"] + counts["skipped"]}


class LoadRawDayOperator(BaseOperator):
    """Loads one day's valid files from the bucket into the warehouse's raw tables,
    replacing that day's rows (``marketing_core.warehouse.load_day``), and with
    ``metadata`` the metadata store's DQ checks into ``raw.dq_checks``."""

    template_fields: Sequence[str] = ("ds", "bucket", "store", "aws_conn_id", "target", "duckdb", "metadata")
    ui_color = "#f3eefa"

    def __init__(
        self,
        *,
        bucket: str,
        ds: str | None = None,
        store: str | None = None,
        aws_conn_id: str | None = None,
        target: str | None = None,
        duckdb: str | None = None,
        metadata: str | None = None,
        allow_missing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.ds = ds
        self.store = store
        self.aws_conn_id = aws_conn_id
        self.target = target
        self.duckdb = duckdb
        self.metadata = metadata
        self.allow_missing = allow_missing

    @fail_fast
    @capture_metrics
    def execute(self, context: Any) -> dict[str, Any]:
        from marketing_core import storage, warehouse

        store = resolve_store(self.store, self.aws_conn_id)
        day = run_ds(self.ds, context)
        loaded = warehouse.load_day(
            day,
            storage.bucket_location(store, self.bucket),
            store=store,
            target=self.target or None,
            duckdb=self.duckdb or None,
            allow_missing=self.allow_missing,
            metadata=self.metadata or None,
        )
        loaded = loaded if isinstance(loaded, Mapping) else {}
        return {"ds": day, "loaded": dict(loaded), "rows_out": sum(loaded.values())}


class DbtOperator(BaseOperator):
    """Runs one dbt command on the bundled project in process
    (``marketing_core.warehouse.run_dbt``): ``build`` (models then their tests), ``run`` or
    ``test``, for one day (``--vars ds``) on the chosen target."""

    template_fields: Sequence[str] = ("ds", "target", "duckdb", "select")
    ui_color = "#ff694a"

    def __init__(
        self,
        *,
        command: str = "build",
        ds: str | None = None,
        select: Sequence[str] | str | None = None,
        target: str | None = None,
        duckdb: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.ds = ds
        self.select = select
        self.target = target
        self.duckdb = duckdb

    @fail_fast
    @capture_metrics
    def execute(self, context: Any) -> dict[str, Any]:
        from marketing_core import warehouse

        day = run_ds(self.ds, context)
        select = [self.select] if isinstance(self.select, str) else list(self.select or [])
        result = warehouse.run_dbt(
            [self.command, *(["--select", *select] if select else [])],
            target=self.target or None,
            duckdb=self.duckdb or None,
            vars={"ds": day},
        )
        statuses: dict[str, int] = {}
        for r in getattr(result.result, "results", None) or []:
            key = str(getattr(r, "status", "unknown")).lower()
            statuses[key] = statuses.get(key, 0) + 1
        self.log.info("dbt %s: %s", self.command, ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        return {"ds": day, "command": self.command, "results": statuses}
