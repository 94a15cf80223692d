from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

DS = "2025-05-25"
REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

# Airflow reads its configuration once, at import: point it at a throwaway home with this
# project's DAGs before any test imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="mc-airflow-")
os.environ.update({
    "AIRFLOW_HOME": _AIRFLOW_HOME,
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow_dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    # cosmos finds dbt on PATH: the one beside this Python.
    "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
})


def read_file(path: str | pathlib.Path) -> pa.Table:
    """Reads a generated file with pyarrow's own readers (not ours)."""
    path = str(path)
    if path.endswith(".parquet"):
        return pq.read_table(path)
    if path.endswith(".csv"):
        # An empty field is a null, as our CSV writer writes nulls.
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    return pajson.read_json(path)


@pytest.fixture(scope="session")
def small_day(tmp_path_factory):
    """One clean day at scale 0.05, generated once for the read-only tests."""
    import marketing_core as mc

    out = tmp_path_factory.mktemp("small_day")
    day = mc.generate_day(DS, out, scale_factor=0.05, seed=7)
    return day


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3 server (SeaweedFS) on 127.0.0.1 for the whole session, stopped by PID."""
    from s3_server import SeaweedServer

    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"))
    server.start()
    yield server
    server.stop()


class Webhook:
    """A local HTTP server standing in for a Slack incoming webhook; ``received`` holds
    the JSON bodies posted to ``url``."""

    def __init__(self):
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"

    @property
    def connection(self) -> str:
        """The ``AIRFLOW_CONN_SLACK_WEBHOOK`` value that points alerts here."""
        return json.dumps({"conn_type": "http", "extra": {"webhook_url": self.url}})

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def webhook(monkeypatch):
    """Yields the JSON bodies a local stand-in for Slack's webhook receives; the
    ``slack_webhook`` connection points at it."""
    hook = Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_WEBHOOK", hook.connection)
    yield hook.received
    hook.close()


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the throwaway home), created once."""
    from marketing_core.airflow import local

    local.ensure_database()
