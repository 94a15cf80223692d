"""What every marketing DAG shares: task defaults, the day and warehouse templates."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from marketing_core.pipeline import DayPaths

from .callbacks import notify_failure
from .metrics import log_failure, log_retry, log_success

#: The day a run works on: ``ds`` from the run's conf, else its logical date, else when
#: the run was due (Airflow 3 manual runs may have no logical date).
DS = "{{ params.ds or (dag_run.logical_date or dag_run.run_after) | ds }}"
#: The DuckDB file: the ``duckdb_path`` param, else under the ``data_dir`` param.
DUCKDB = "{{ params.duckdb_path or params.data_dir ~ '/" + DayPaths.DUCKDB + "' }}"
START_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def warehouse_target() -> str:
    """The warehouse (a deployment setting): ``$MARKETING_CORE_DBT_TARGET`` or duckdb."""
    return os.environ.get("MARKETING_CORE_DBT_TARGET", "duckdb")


def default_args() -> dict[str, Any]:
    """Every task: 3 retries, 5 minutes apart and doubling up to 30 minutes
    (``MARKETING_CORE_RETRY_DELAY_SECONDS`` shortens the first delay, e.g. in tests), and
    ``notify_failure`` once a task has failed for good. Tasks whose operator does not log
    its own JSON metrics line (sensors, Python operators, cosmos' dbt tasks) log it from
    these callbacks, so every task emits one per attempt."""
    return {
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=float(os.environ.get("MARKETING_CORE_RETRY_DELAY_SECONDS", 300))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
        "on_failure_callback": [notify_failure, log_failure],
        "on_success_callback": [log_success],
        "on_retry_callback": [log_retry],
    }
