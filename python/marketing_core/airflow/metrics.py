"""One JSON metrics line per task: dag_id, task_id, dataset, ds, rows_in, rows_out,
duration_ms, status. Log shippers (Loki, CloudWatch, Datadog) parse it without regexes."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

log = logging.getLogger("marketing_core.metrics")

F = TypeVar("F", bound=Callable[..., Any])


def metrics_line(context: Mapping[str, Any] | None, summary: Mapping[str, Any] | None, *,
                 dataset: str | None, duration_ms: int, status: str) -> dict[str, Any]:
    ti = (context or {}).get("ti") or (context or {}).get("task_instance")
    summary = summary or {}
    return {
        "event": "task_metrics",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "dataset": summary.get("dataset", dataset),
        "ds": summary.get("ds", (context or {}).get("ds")),
        "rows_in": summary.get("rows_in"),
        "rows_out": summary.get("rows_out"),
        "duration_ms": duration_ms,
        "status": status,
        "data_status": summary.get("status"),
    }


def capture_metrics(execute: F) -> F:
    """Decorates an operator's ``execute(self, context)``: logs one JSON metrics line with
    the summary it returns (or ``status: failed`` and re-raises)."""

    @functools.wraps(execute)
    def wrapper(self, context):
        started = time.perf_counter()
        dataset = getattr(self, "dataset", None)
        try:
            summary = execute(self, context)
        except BaseException:
            line = metrics_line(context, None, dataset=dataset,
                                duration_ms=round((time.perf_counter() - started) * 1000), status="failed")
            log.error(json.dumps(line, default=str))
            raise
        # ``status`` is the task's; a summary's own status (a validation's passed / warn /
        # failed) is the data's and goes in ``data_status``.
        line = metrics_line(context, summary if isinstance(summary, Mapping) else None, dataset=dataset,
                            duration_ms=round((time.perf_counter() - started) * 1000), status="success")
        log.info(json.dumps(line, default=str))
        return summary

    wrapper._captures_metrics = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _log_from_callback(context: Mapping[str, Any], status: str) -> None:
    """The metrics line for a task whose ``execute`` does not log one itself (sensors,
    Python and Empty operators, cosmos' dbt tasks), from a task callback."""
    task = context.get("task")
    if getattr(getattr(task, "execute", None), "_captures_metrics", False):
        return
    ti = context.get("ti") or context.get("task_instance")
    started = getattr(ti, "start_date", None)
    duration_ms = None
    if started is not None:
        import datetime as _dt

        duration_ms = round((_dt.datetime.now(_dt.timezone.utc) - started).total_seconds() * 1000)
    summary = None
    if status == "success" and ti is not None:
        try:
            value = ti.xcom_pull(task_ids=ti.task_id)
            summary = value if isinstance(value, Mapping) else None
        except Exception:  # noqa: BLE001 - metrics never fail a task
            summary = None
    line = metrics_line(context, summary, dataset=None, duration_ms=duration_ms, status=status)
    (log.info if status == "success" else log.error)(json.dumps(line, default=str))


def log_success(context: Mapping[str, Any]) -> None:
    """``on_success_callback``: the metrics line of a task without ``capture_metrics``."""
    _log_from_callback(context, "success")


def log_retry(context: Mapping[str, Any]) -> None:
    """``on_retry_callback``: the metrics line of a failed attempt that will be retried."""
    _log_from_callback(context, "up_for_retry")


def log_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: the metrics line of a task that failed for good."""
    _log_from_callback(context, "failed")
