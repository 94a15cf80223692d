"""The warehouse step: load a day's valid files into raw tables and build the dbt project.

A thin wrapper over dbt's Python API (``dbtRunner``) for the bundled project in ``dbt/``
(DuckDB by default, Snowflake with ``target="snowflake"``); the Airflow operators call it.

    from marketing_core import warehouse
    warehouse.load_day("2025-05-25", "data/bucket/marketing-data")
    warehouse.build(ds="2025-05-25")
    print(warehouse.mart_counts(), warehouse.kpis("2025-05-25"))

Where things go (each overridable by argument or environment variable):
- the DuckDB file: ``MARKETING_CORE_DUCKDB_PATH``, default ``./data/warehouse/marketing.duckdb``;
- dbt's target and log directories: ``DBT_TARGET_PATH`` / ``DBT_LOG_PATH``, default under
  the system temp directory (never inside the project);
- the dbt project: ``MARKETING_CORE_DBT_PROJECT_DIR``, default the repository's ``dbt/``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import settings
from ._dates import ds_string
from .exceptions import MarketingCoreError

__all__ = [
    "CORE_MARTS",
    "KPI_MARTS",
    "DbtRunError",
    "build",
    "duckdb_path",
    "httpfs_extension_path",
    "kpis",
    "load_day",
    "load_dq_checks",
    "mart_counts",
    "project_dir",
    "run_dbt",
]

CORE_MARTS = (
    "mart_campaigns",
    "mart_forms",
    "mart_pages",
    "mart_contacts",
    "mart_form_fills",
    "mart_website_activity",
)
KPI_MARTS = ("mart_campaign_performance_daily", "mart_lead_funnel", "mart_form_performance")
MARTS_SCHEMA = "marts"
RAW_SCHEMA = "raw"
# Must equal the `settings` of the duckdb output in dbt/profiles.yml: DuckDB refuses a second
# connection to an open file with a different configuration.
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class DbtRunError(MarketingCoreError):
    """A dbt command failed; ``result`` is dbt's ``dbtRunnerResult``."""

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


def project_dir() -> Path:
    """The bundled dbt project (``dbt_project.yml`` and ``profiles.yml``)."""
    env = settings.DBT_PROJECT_DIR.get()
    path = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "dbt"
    if not (path / "dbt_project.yml").is_file():
        raise MarketingCoreError(
            f"no dbt project at {path}; set {settings.DBT_PROJECT_DIR.name} to the project's dbt/ directory"
        )
    return path


def duckdb_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The DuckDB warehouse file (absolute), its directory created."""
    if path is None:
        path = settings.DUCKDB_PATH.get()
    p = Path(path).resolve()
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def httpfs_extension_path() -> str | None:
    """The httpfs extension shipped by the ``duckdb-extension-httpfs`` wheel, if installed."""
    try:
        import duckdb
        import duckdb_extension_httpfs
    except ImportError:
        return None
    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    candidates = sorted(base.glob(f"v{duckdb.__version__}/**/httpfs.duckdb_extension")) or sorted(
        base.glob("**/httpfs.duckdb_extension")
    )
    return str(candidates[0]) if candidates else None


def _default_dbt_dir(kind: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"marketing_core_dbt-{os.getuid() if hasattr(os, 'getuid') else 0}", kind)


def run_dbt(
    args: Sequence[str],
    *,
    target: str | None = None,
    duckdb: str | os.PathLike[str] | None = None,
    vars: Mapping[str, Any] | None = None,
    target_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    check: bool = True,
) -> Any:
    """Runs one dbt command in process against the bundled project; returns the
    ``dbtRunnerResult``. Raises ``DbtRunError`` when it fails and ``check`` is true.

    ``args`` is the command and its own options (``["build", "--select", "marts"]``);
    project, profiles, target and log directories, target and vars are added here.
    """
    from dbt.cli.main import dbtRunner

    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    settings.DUCKDB_PATH.set(str(duckdb_path(duckdb)))
    ext = httpfs_extension_path()
    if ext and not settings.HTTPFS_EXTENSION.get():
        settings.HTTPFS_EXTENSION.set(ext)
    project = str(project_dir())
    full = [
        *args,
        "--project-dir", project,
        "--profiles-dir", project,
        "--target-path", os.fspath(target_path or os.environ.get("DBT_TARGET_PATH") or _default_dbt_dir("target")),
        "--log-path", os.fspath(log_path or os.environ.get("DBT_LOG_PATH") or _default_dbt_dir("logs")),
    ]
    if target:
        full += ["--target", target]
    if vars:
        full += ["--vars", json.dumps(dict(vars), default=str)]
    result = dbtRunner().invoke(full)
    if check and not result.success:
        raise DbtRunError(f"dbt {' '.join(args)} failed: {_failures(result)}", result)
    return result


def _failures(result: Any) -> str:
    if result.exception is not None:
        return str(result.exception)
    failed = []
    for r in getattr(result.result, "results", None) or []:
        status = str(getattr(r, "status", ""))
        if status.lower() in ("error", "fail"):
            failed.append(f"{r.node.name}: {status}" + (f" ({r.message})" if r.message else ""))
    return "; ".join(failed) or "see dbt's log"


@contextlib.contextmanager
def _environment(values: Mapping[str, str]):
    """Sets environment variables for the duration (dbt's ``env_var`` reads them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_day(
    ds: str | _dt.date,
    raw_root: str | os.PathLike[str] | None = None,
    *,
    datasets: Iterable[str] | None = None,
    allow_missing: bool = False,
    target: str | None = None,
    duckdb: str | os.PathLike[str] | None = None,
    store: Any = None,
    metadata: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Loads one day's valid files (``<raw_root>/valid-data/<dataset>/ds=<ds>/``) into the
    raw tables, replacing that day's rows (``dbt run-operation load_raw_day``).

    ``raw_root`` is a local bucket directory or ``s3://bucket`` (default: the project var
    ``raw_root``). ``store`` (a ``StoreConfig`` or URL) supplies the S3 endpoint and
    credentials for an ``s3://`` root, for this call only. With ``metadata`` (the SQLite
    metadata store) on DuckDB, its DQ checks are copied to ``raw.dq_checks`` too (see
    :func:`load_dq_checks`). On DuckDB, returns
    ``{dataset: rows for ds}``; on Snowflake, dbt's result.
    """
    ds = ds_string(ds)
    op_args: dict[str, Any] = {"ds": ds, "allow_missing": allow_missing}
    if raw_root is not None:
        raw_root = os.fspath(raw_root)
        op_args["raw_root"] = raw_root if "://" in raw_root else str(Path(raw_root).resolve())
    if datasets is not None:
        op_args["datasets"] = list(datasets)
    from .storage import as_store

    env = as_store(store).aws_env() if store is not None else {}
    with _environment(env):
        result = run_dbt(
            ["run-operation", "load_raw_day", "--args", json.dumps(op_args)], target=target, duckdb=duckdb, **kwargs
        )
    if (target or settings.DBT_TARGET.get()) != "duckdb":
        return result
    if metadata is not None:
        load_dq_checks(metadata, duckdb=duckdb)
    with _connect(duckdb) as con:
        names = op_args.get("datasets") or _raw_datasets()
        return {
            name: con.execute(f"select count(*) from {RAW_SCHEMA}.{name} where ds = ?", [ds]).fetchone()[0]
            for name in names
        }


def _raw_datasets() -> list[str]:
    from .generation import DATASETS

    return list(DATASETS)


def build(
    ds: str | _dt.date | None = None,
    *,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    full_refresh: bool = False,
    vars: Mapping[str, Any] | None = None,
    target: str | None = None,
    duckdb: str | os.PathLike[str] | None = None,
    check: bool = True,
    **kwargs: Any,
) -> Any:
    """``dbt build`` (models and their tests). With ``ds``, the incremental marts only take
    that day's rows and the row-count budget compares that day with the one before."""
    args = ["build"]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if full_refresh:
        args.append("--full-refresh")
    all_vars = dict(vars or {})
    if ds is not None:
        all_vars["ds"] = ds_string(ds)
    return run_dbt(args, target=target, duckdb=duckdb, vars=all_vars or None, check=check, **kwargs)


class _connect:
    """A connection to the DuckDB warehouse, closed on exit. Uses the profile's
    configuration so it can coexist with dbt's connection in the same process."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        import duckdb

        self.con = duckdb.connect(str(duckdb_path(path)), config=dict(DUCKDB_CONFIG))

    def __enter__(self):
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def mart_counts(duckdb: str | os.PathLike[str] | None = None) -> dict[str, int]:
    """Rows in every mart of the DuckDB warehouse (missing marts are left out)."""
    with _connect(duckdb) as con:
        present = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [MARTS_SCHEMA]
            ).fetchall()
        }
        return {
            name: con.execute(f"select count(*) from {MARTS_SCHEMA}.{name}").fetchone()[0]
            for name in (*CORE_MARTS, *KPI_MARTS)
            if name in present
        }


def kpis(ds: str | _dt.date | None = None, *, duckdb: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Headline KPIs for one day (default: the latest day) from the DuckDB warehouse."""
    with _connect(duckdb) as con:
        day = ds_string(ds) if ds is not None else None
        if day is None:
            latest = con.execute(f"select max(activity_date) from {MARTS_SCHEMA}.mart_campaign_performance_daily").fetchone()[0]
            if latest is None:
                return {}
            day = latest.isoformat()
        row = con.execute(
            f"""
            select sum(sessions), sum(bounced_sessions), sum(form_fills), sum(estimated_pipeline_value),
                   sum(avg_session_duration_seconds * sessions), sum(pages_per_session * sessions)
            from {MARTS_SCHEMA}.mart_campaign_performance_daily where activity_date = ?
            """,
            [day],
        ).fetchone()
        sessions, bounces, fills, value, duration, pages = (x or 0 for x in row)
        top = con.execute(
            f"""
            select campaign_id, campaign_name, estimated_pipeline_value
            from {MARTS_SCHEMA}.mart_campaign_performance_daily where activity_date = ?
            order by estimated_pipeline_value desc, campaign_id limit 1
            """,
            [day],
        ).fetchone()
    return {
        "ds": day,
        "sessions": int(sessions),
        "form_fills": int(fills),
        "bounce_rate": bounces / sessions if sessions else None,
        "avg_session_duration_seconds": duration / sessions if sessions else None,
        "pages_per_session": pages / sessions if sessions else None,
        "conversion_rate": fills / sessions if sessions else None,
        "estimated_pipeline_value": float(value),
        "top_campaign": {"campaign_id": top[0], "campaign_name": top[1], "estimated_pipeline_value": float(top[2])}
        if top
        else None,
    }


_DQ_COLUMNS = (
    "id", "run_id", "dataset", "ds", "file", "check_name", "column_name", "severity", "status",
    "rows_in", "rows_failed", "signature", "sample_values", "checked_at",
)


def load_dq_checks(
    metadata_path: str | os.PathLike[str] | None = None, *, duckdb: str | os.PathLike[str] | None = None
) -> int:
    """Copies the metadata store's ``dq_checks`` (SQLite) into ``raw.dq_checks`` of the
    DuckDB warehouse, replacing what was there (so it is safe to repeat). Returns the rows."""
    from .metadata import default_metadata_path

    src = sqlite3.connect(os.fspath(metadata_path or default_metadata_path()))
    try:
        rows = src.execute(f"select {', '.join(_DQ_COLUMNS)} from dq_checks order by id").fetchall()
    finally:
        src.close()
    with _connect(duckdb) as con:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        con.execute(
            f"create table if not exists {RAW_SCHEMA}.dq_checks (id bigint, run_id varchar, dataset varchar,"
            " ds varchar, file varchar, check_name varchar, column_name varchar, severity varchar,"
            " status varchar, rows_in bigint, rows_failed bigint, signature varchar, sample_values varchar,"
            " checked_at varchar, _loaded_at timestamp)"
        )
        con.execute("begin")
        con.execute(f"delete from {RAW_SCHEMA}.dq_checks")
        if rows:
            now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
            con.executemany(
                f"insert into {RAW_SCHEMA}.dq_checks ({', '.join(_DQ_COLUMNS)}, _loaded_at)"
                f" values ({', '.join('?' * (len(_DQ_COLUMNS) + 1))})",
                [(*r, now) for r in rows],
            )
        con.execute("commit")
    return len(rows)
