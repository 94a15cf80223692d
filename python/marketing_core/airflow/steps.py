"""The small Python steps of the marketing DAGs (branch, alert, summary), kept here so
the DAG files only wire tasks together and these stay testable without a scheduler."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .callbacks import new_failures, notify_dq_failure


def _pull(context: Mapping[str, Any], task_ids: Sequence[str]) -> list[Any]:
    """The ``return_value`` XCom of each task, in order (None for a task that pushed none)."""
    ti = context["ti"]
    return [ti.xcom_pull(task_ids=task_id) for task_id in task_ids]


def choose_dq_path(context: Mapping[str, Any], validate_ids: Sequence[str], alert_id: str, quiet_id: str) -> str:
    """Branch: ``alert_id`` when any validation found a failure signature never seen
    before, else ``quiet_id``."""
    return alert_id if new_failures(_pull(context, validate_ids)) else quiet_id


def alert_new_dq_failures(context: Mapping[str, Any], validate_ids: Sequence[str]) -> list[str]:
    """Sends one data-quality alert for the run's new failure signatures; returns the
    channels used (``log`` when no channel is configured)."""
    return notify_dq_failure(context, _pull(context, validate_ids))


def summarize_day(
    context: Mapping[str, Any],
    *,
    ds: str,
    generate_ids: Sequence[str],
    validate_ids: Sequence[str],
    upload_ids: Mapping[str, str],
    alert_id: str,
    load_id: str,
    target: str | None,
    duckdb: str | None,
) -> dict[str, Any]:
    """The day's summary (``marketing_core.pipeline.day_summary``) from the tasks' XComs,
    plus mart row counts and KPIs read from the DuckDB warehouse."""
    from marketing_core import pipeline

    uploads = dict(zip(upload_ids, _pull(context, list(upload_ids.values()))))
    (alerts,) = _pull(context, [alert_id])
    (loaded,) = _pull(context, [load_id])
    marts = kpis = None
    if (target or "duckdb") == "duckdb":
        from marketing_core import warehouse

        marts = warehouse.mart_counts(duckdb or None)
        kpis = warehouse.kpis(ds, duckdb=duckdb or None)
    summary = pipeline.day_summary(
        ds,
        generated=[g for g in _pull(context, generate_ids) if g],
        validated=[v for v in _pull(context, validate_ids) if v],
        uploads=uploads,
        alerts=alerts or [],
        loaded=(loaded or {}).get("loaded"),
        marts=marts,
        kpis=kpis,
    )
    return summary
