"""Failure and data-quality alerts: email through an Airflow SMTP connection and/or a Slack
incoming webhook, when configured; otherwise the payload is logged.

Configuration (all optional):
- ``MARKETING_CORE_SMTP_CONN_ID`` (default ``smtp_default``) and ``MARKETING_CORE_ALERT_EMAIL``
  (comma-separated recipients): email is sent when both the connection and recipients exist;
- ``MARKETING_CORE_SLACK_CONN_ID`` (default ``slack_webhook``): a connection whose
  ``host``/``password``/``extra.webhook_url`` holds the incoming-webhook URL, or the URL itself
  in ``MARKETING_CORE_SLACK_WEBHOOK_URL``.
Secrets are never logged: only the payload is.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any
from marketing_core import settings

log = logging.getLogger("marketing_core.alerts")


def _connection(conn_id: str):
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # pragma: no cover - older Airflow
        from airflow.hooks.base import BaseHook
    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - an undefined connection means "not configured"
        return None


def _slack_url() -> str | None:
    url = settings.SLACK_WEBHOOK_URL.get()
    if url:
        return url
    conn = _connection(settings.SLACK_CONN_ID.get())
    if conn is None:
        return None
    extra = conn.extra_dejson or {}
    if extra.get("webhook_url"):
        return extra["webhook_url"]
    if conn.host and conn.host.startswith("http"):
        return conn.host + (conn.password or "")
    return None


def _send_slack(url: str, title: str, payload: Mapping[str, Any]) -> None:
    body = json.dumps({"text": f"{title}\n```{json.dumps(payload, indent=2, default=str)}```"}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - URL comes from a Connection
        resp.read()


def _send_email(title: str, payload: Mapping[str, Any]) -> bool:
    recipients = [r.strip() for r in (settings.ALERT_EMAIL.get() or "").split(",") if r.strip()]
    if not recipients:
        return False
    conn = _connection(settings.SMTP_CONN_ID.get())
    if conn is None or not conn.host:
        return False
    msg = EmailMessage()
    msg["Subject"] = title
    msg["From"] = (conn.extra_dejson or {}).get("from_email", "marketing-core@localhost")
    msg["To"] = ", ".join(recipients)
    msg.set_content(json.dumps(payload, indent=2, default=str))
    with smtplib.SMTP(conn.host, conn.port or 25, timeout=10) as smtp:
        if (conn.extra_dejson or {}).get("starttls"):
            smtp.starttls()
        if conn.login:
            smtp.login(conn.login, conn.password or "")
        smtp.send_message(msg)
    return True


def send_alert(title: str, payload: Mapping[str, Any]) -> list[str]:
    """Sends ``payload`` to every configured channel; returns the channels used
    (``["log"]`` when none is configured). A failing channel is logged, not raised:
    an alert must never fail the task that raised it."""
    channels = []
    url = _slack_url()
    if url:
        try:
            _send_slack(url, title, payload)
            channels.append("slack")
        except Exception as exc:  # noqa: BLE001
            log.error("slack alert failed: %s", type(exc).__name__)
    try:
        if _send_email(title, payload):
            channels.append("email")
    except Exception as exc:  # noqa: BLE001
        log.error("email alert failed: %s", type(exc).__name__)
    log.warning("%s %s", title, json.dumps(payload, default=str))
    return channels or ["log"]
