"""Alert delivery: a real local HTTP server stands in for Slack's incoming webhook, a real
local SMTP server (aiosmtpd) for the mail relay; connections come from AIRFLOW_CONN_*."""

from __future__ import annotations

import json

import pytest

from marketing_core.airflow.callbacks import new_failures, notify_dq_failure, notify_failure


class FakeTI:
    dag_id, task_id, run_id, try_number = "marketing_pipeline", "validate.contacts", "manual__1", 4
    log_url = "http://127.0.0.1:8080/log"


@pytest.fixture
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    messages = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            messages.append(envelope)
            return "250 OK"

    import socket

    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port}))
    monkeypatch.setenv("MARKETING_CORE_ALERT_EMAIL", "data-team@example.com")
    yield messages
    controller.stop()


def test_failure_alert_goes_to_slack_and_email(webhook, smtp):
    channels = notify_failure({"ti": FakeTI(), "ds": "2025-05-25", "exception": RuntimeError("boom")})
    assert channels == ["slack", "email"]
    assert "validate.contacts" in webhook[0]["text"] and "RuntimeError: boom" in webhook[0]["text"]
    assert smtp[0].rcpt_tos == ["data-team@example.com"]
    assert b"marketing_pipeline" in smtp[0].content


def test_unconfigured_alerts_are_logged(monkeypatch):
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("marketing_core.alerts")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.delenv("MARKETING_CORE_ALERT_EMAIL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_WEBHOOK", raising=False)
    assert notify_failure({"ti": FakeTI(), "ds": "2025-05-25", "exception": ValueError("x")}) == ["log"]
    logger.removeHandler(handler)
    logged = " ".join(r.getMessage() for r in records)
    assert "ValueError: x" in logged and "marketing_pipeline" in logged


def test_dq_alert_fires_only_for_new_signatures(webhook):
    summaries = [
        {"dataset": "contacts", "path": "contacts.csv", "new_failures": [
            {"check": "pattern", "column": "email", "rows_failed": 12, "samples": ["a b@x.com"], "signature": "abc"}]},
        {"dataset": "form_fills", "path": "ff.parquet", "new_failures": []},
        None,
    ]
    assert [f["dataset"] for f in new_failures(summaries)] == ["contacts"]
    assert notify_dq_failure({"ti": FakeTI(), "ds": "2025-05-25"}, summaries) == ["slack"]
    assert "a b@x.com" in webhook[0]["text"] and "contacts" in webhook[0]["text"]
    assert notify_dq_failure({"ti": FakeTI()}, [{"dataset": "contacts", "new_failures": []}]) == []
    assert len(webhook) == 1
