"""The one-JSON-line-per-task metrics decorator."""

from __future__ import annotations

import json
import logging

import pytest

from marketing_core.airflow.metrics import capture_metrics


class FakeTI:
    dag_id, task_id, run_id, try_number = "marketing_pipeline", "generate.contacts", "r1", 1


class Op:
    dataset = "contacts"

    def __init__(self, fail=False):
        self.fail = fail

    @capture_metrics
    def execute(self, context):
        if self.fail:
            raise RuntimeError("disk full")
        return {"ds": "2025-05-25", "rows_in": 0, "rows_out": 1000}


@pytest.fixture
def metric_lines(monkeypatch):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("marketing_core.metrics")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "level", logging.INFO)
    yield lambda: [json.loads(r.getMessage()) for r in records]
    logger.removeHandler(handler)


def test_success_and_failure_each_log_one_json_line(metric_lines):
    assert Op().execute({"ti": FakeTI()})["rows_out"] == 1000
    with pytest.raises(RuntimeError):
        Op(fail=True).execute({"ti": FakeTI(), "ds": "2025-05-26"})
    ok, failed = metric_lines()
    assert ok["dag_id"] == "marketing_pipeline" and ok["task_id"] == "generate.contacts"
    assert (ok["dataset"], ok["ds"], ok["rows_in"], ok["rows_out"], ok["status"]) == ("contacts", "2025-05-25", 0, 1000, "success")
    assert isinstance(ok["duration_ms"], int) and ok["duration_ms"] >= 0
    assert (failed["status"], failed["ds"], failed["rows_out"]) == ("failed", "2025-05-26", None)
