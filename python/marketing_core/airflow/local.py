"""Run the bundled DAGs on this machine with real Airflow and no services: a SQLite
metadata database under the data directory and ``dag.test()``, which runs every task of
one DAG run in this process (branches, retries, XComs and callbacks included).

This is what ``marketing-core pipeline`` and the tests use; ``airflow standalone`` with
the same environment (``./dev airflow``) serves the UI over the same database.

    from marketing_core.airflow import local
    local.configure()                       # before anything imports airflow
    run = local.run_dag("marketing_pipeline", ds="2025-05-25", conf={"scale_factor": 0.1})
    print(run.state, run.xcom("summarize"))
"""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from marketing_core import settings

__all__ = ["DagRunResult", "configure", "dags_folder", "ensure_database", "run_dag"]

WAREHOUSE_POOL = "warehouse"


def dags_folder() -> pathlib.Path:
    """``$MARKETING_CORE_DAGS_FOLDER`` or the repository's ``airflow_dags/``."""
    env = settings.DAGS_FOLDER.get()
    return pathlib.Path(env) if env else pathlib.Path(__file__).resolve().parents[3] / "airflow_dags"


def configure(home: str | os.PathLike[str] | None = None, *, data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Points Airflow at a local home (default ``<data_dir>/airflow``) with this project's
    DAGs, no examples and no telemetry. Must run before ``airflow`` is imported; values
    already in the environment win. Returns what it set."""
    from marketing_core.pipeline import DayPaths

    root = DayPaths.of(data_dir).root
    home = pathlib.Path(home).resolve() if home is not None else root / "airflow"
    wanted = {
        settings.DATA_DIR.name: str(root),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    applied = {}
    for key, value in wanted.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    # cosmos looks for the dbt executable on PATH: the one installed beside this Python.
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    home.mkdir(parents=True, exist_ok=True)
    return applied


def ensure_database(pools: Mapping[str, int] | None = None) -> None:
    """Creates or upgrades the metadata database and the pools the DAGs use
    (``warehouse``: how many tasks may load/transform at once)."""
    from airflow.models.pool import Pool
    from airflow.utils import db

    db.initdb()
    for name, slots in (pools or {WAREHOUSE_POOL: 1}).items():
        Pool.create_or_update_pool(name, slots=slots, description="marketing_core", include_deferred=False)


@dataclass
class DagRunResult:
    """The outcome of one ``run_dag``: the run's state and every task's state and XCom."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str] = field(default_factory=dict)
    xcoms: dict[str, Any] = field(default_factory=dict)
    try_numbers: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def xcom(self, task_id: str) -> Any:
        return self.xcoms.get(task_id)


def run_dag(
    dag_id: str,
    *,
    ds: str | _dt.date | None = None,
    conf: Mapping[str, Any] | None = None,
) -> DagRunResult:
    """Runs one DAG run of ``dag_id`` from the DAGs folder with ``dag.test()`` for the day
    ``ds`` (its logical date) and returns its states and XComs."""
    from airflow import settings as airflow_settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel

    from marketing_core._dates import ds_string

    bag = DagBag(dag_folder=str(dags_folder()))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise KeyError(f"no DAG {dag_id!r} in {dags_folder()}")
    logical = None
    if ds is not None:
        day = _dt.date.fromisoformat(ds_string(ds))
        logical = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc)
    run = dag.test(logical_date=logical, run_conf=dict(conf or {}))
    session = airflow_settings.Session()
    try:
        far = _dt.datetime.max.replace(tzinfo=_dt.timezone.utc)
        tis = sorted(run.get_task_instances(session=session), key=lambda ti: (ti.start_date or far, ti.task_id))
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value")).all()
        xcoms = {x.task_id: XComModel.deserialize_value(x) for x in rows}
        return DagRunResult(
            dag_id=dag_id,
            run_id=run.run_id,
            state=str(run.state),
            task_states={ti.task_id: str(ti.state) for ti in tis},
            xcoms=xcoms,
            try_numbers={ti.task_id: ti.try_number for ti in tis},
        )
    finally:
        session.close()
