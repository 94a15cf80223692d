"""Task callbacks for the marketing DAGs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .notify import send_alert


def _task_fields(context: Mapping[str, Any]) -> dict[str, Any]:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "ds": context.get("ds"),
        "log_url": getattr(ti, "log_url", None),
    }


def notify_failure(context: Mapping[str, Any]) -> list[str]:
    """``on_failure_callback``: a task failed after its retries."""
    payload = _task_fields(context)
    exc = context.get("exception")
    payload["error"] = f"{type(exc).__name__}: {exc}" if exc is not None else None
    return send_alert(f"[marketing_core] task failed: {payload['dag_id']}.{payload['task_id']}", payload)


def new_failures(summaries: Iterable[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """The checks with a failure signature never seen before, across validation summaries."""
    found = []
    for summary in summaries:
        for failure in (summary or {}).get("new_failures", []) or []:
            found.append({"dataset": summary.get("dataset"), "file": summary.get("path"), **failure})
    return found


def notify_dq_failure(context: Mapping[str, Any], summaries: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """Alerts once per run for validation failures whose signature is new. A defect seen
    on an earlier day has a known signature and does not alert again."""
    failures = new_failures(summaries)
    if not failures:
        return []
    payload = {**_task_fields(context), "new_failures": failures}
    datasets = sorted({f["dataset"] for f in failures if f.get("dataset")})
    return send_alert(f"[marketing_core] new data-quality failures in {', '.join(datasets)}", payload)
