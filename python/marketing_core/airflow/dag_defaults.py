"""What every marketing DAG shares: task defaults, param schemas, the day and warehouse
templates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marketing_core.generation import DEFAULT_SEED, DEFECT_KINDS
from marketing_core.pipeline import DayPaths

from .callbacks import notify_failure
from .metrics import log_failure, log_retry, log_success
from marketing_core import settings

#: The day a run works on: ``ds`` from the run's conf, else its logical date, else when
#: the run was due (Airflow 3 manual runs may have no logical date).
DS = "{{ params.ds or (dag_run.logical_date or dag_run.run_after) | ds }}"
#: The DuckDB file: the ``duckdb_path`` param, else under the ``data_dir`` param.
DUCKDB = "{{ params.duckdb_path or params.data_dir ~ '/" + DayPaths.DUCKDB + "' }}"
START_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def warehouse_target() -> str:
    """The warehouse (a deployment setting): ``$MARKETING_CORE_DBT_TARGET`` or duckdb."""
    return settings.DBT_TARGET.get()


def default_args() -> dict[str, Any]:
    """Every task: 3 retries, 5 minutes apart and doubling up to 30 minutes
    (``MARKETING_CORE_RETRY_DELAY_SECONDS`` shortens the first delay, e.g. in tests), and
    ``notify_failure`` once a task has failed for good. Tasks whose operator does not log
    its own JSON metrics line (sensors, Python operators, cosmos' dbt tasks) log it from
    these callbacks, so every task emits one per attempt."""
    return {
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=float(settings.RETRY_DELAY_SECONDS.get())),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
        "on_failure_callback": [notify_failure, log_failure],
        "on_success_callback": [log_success],
        "on_retry_callback": [log_retry],
    }


def day_param() -> Any:
    """The ``ds`` param: a date (JSON Schema ``format: date``, checked when the run is
    triggered) or null for the run's logical date."""
    from airflow.sdk import Param

    return Param(None, type=["null", "string"], format="date",
                 description="Day YYYY-MM-DD (default: the run's logical date)")


def generation_params() -> dict[str, Any]:
    """The generator's params, with schemas Airflow checks when a run is triggered, so a
    typo is refused at once instead of failing every task: ``scale_factor`` > 0, ``seed``
    an integer >= 0, ``defects`` only the kinds the generator knows (``DEFECT_KINDS``,
    the Rust core's list), each rate in [0, 1]."""
    from airflow.sdk import Param

    rate = {"type": "number", "minimum": 0, "maximum": 1}
    return {
        "scale_factor": Param(1.0, type="number", exclusiveMinimum=0,
                              description="Data size, > 0; 1.0 ≈ 500k website events"),
        "seed": Param(DEFAULT_SEED, type="integer", minimum=0, description="Random seed: same seed, same files"),
        "defects": Param({}, type="object", properties={kind: rate for kind in DEFECT_KINDS},
                         additionalProperties=False,
                         description=f'Injected defect rates in [0, 1], e.g. {{"bad_email": 0.01}}; kinds: '
                                     f'{", ".join(DEFECT_KINDS)}'),
    }
