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
        line = metrics_line(context, summary if isinstance(summary, Mapping) else None, dataset=dataset,
                            duration_ms=round((time.perf_counter() - started) * 1000),
                            status=(summary or {}).get("status", "success") if isinstance(summary, Mapping) else "success")
        log.info(json.dumps(line, default=str))
        return summary

    return wrapper  # type: ignore[return-value]
