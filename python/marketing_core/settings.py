"""Every ``MARKETING_CORE_*`` environment setting, in one registry.

No other module spells a setting's name: Python reads a setting through its entry here
(``settings.DATA_DIR.get()``), the Rust core reads the ones marked ``rust`` through
``src/settings.rs`` (the same names, checked by a test), and dbt reads the ones marked
``dbt`` with ``env_var()``. README's settings table is :func:`markdown_table`'s output
(a test keeps them equal). Store and upload behaviour is never a hidden switch: those are
options of :class:`marketing_core.StoreConfig`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import MutableMapping

__all__ = ["Setting", "REGISTRY", "markdown_table"]


@dataclass(frozen=True)
class Setting:
    """One environment setting: its name, its default (None: unset) and who reads it."""

    name: str
    default: str | None
    description: str
    read_by: str = "python"

    def get(self, env: MutableMapping[str, str] | None = None) -> str | None:
        """The value set in the environment (an empty value counts as unset), else the default."""
        value = (os.environ if env is None else env).get(self.name)
        return value if value else self.default

    def set(self, value: str, env: MutableMapping[str, str] | None = None) -> None:
        """Sets it in ``env`` (default: this process's environment), for readers this
        process starts or hands the environment to (dbt, the Airflow subprocess)."""
        (os.environ if env is None else env)[self.name] = value


def _setting(name: str, default: str | None, description: str, read_by: str = "python") -> Setting:
    return Setting("MARKETING_CORE_" + name, default, description, read_by)


DATA_DIR = _setting("DATA_DIR", "data", "Working directory of the pipeline and the DAGs (generated, validated, bucket, metadata, warehouse).")
METADATA = _setting("METADATA", os.path.join(".marketing_core", "metadata.sqlite"), "SQLite metadata store (DQ checks, failure signatures, upload attempts) when no path is given.")
STORE_URL = _setting("STORE_URL", None, "Store of the uploads: `s3://` or `file://DIR` (default: `s3://` when `AWS_ENDPOINT_URL` is set, else a local directory).")
AWS_CONN_ID = _setting("AWS_CONN_ID", None, "Airflow `aws` connection the DAGs upload with (for MinIO: `endpoint_url` in its extras).")
MAX_OUTPUT_BYTES = _setting("MAX_OUTPUT_BYTES", None, "Largest output the generator writes, in bytes (default: free disk space and half of the available memory).", "rust")
TRACE = _setting("TRACE", None, "When set, the validator prints the time of each phase to stderr.", "rust")
DBT_TARGET = _setting("DBT_TARGET", "duckdb", "dbt target: `duckdb` (local) or `snowflake`.", "python, dbt")
DBT_PROJECT_DIR = _setting("DBT_PROJECT_DIR", None, "The dbt project (default: the repository's `dbt/`).")
DUCKDB_PATH = _setting("DUCKDB_PATH", os.path.join("data", "warehouse", "marketing.duckdb"), "DuckDB warehouse file.", "python, dbt")
HTTPFS_EXTENSION = _setting("HTTPFS_EXTENSION", None, "DuckDB's httpfs extension file (set from the duckdb-extension-httpfs wheel; never downloaded).", "python, dbt")
RAW_ROOT = _setting("RAW_ROOT", "data/bucket/marketing-data", "Where dbt's loader finds the bucket (a directory or `s3://bucket`) when `load_raw_day` gets no `raw_root`.", "dbt")
DAGS_FOLDER = _setting("DAGS_FOLDER", None, "The DAGs folder `marketing-core airflow-ui` and `pipeline` use (default: the repository's `airflow_dags/`).")
RETRY_DELAY_SECONDS = _setting("RETRY_DELAY_SECONDS", "300", "First retry delay of every DAG task (doubling after); shorter in tests.")
SLACK_WEBHOOK_URL = _setting("SLACK_WEBHOOK_URL", None, "Slack incoming-webhook URL for alerts (instead of a connection).")
SLACK_CONN_ID = _setting("SLACK_CONN_ID", "slack_webhook", "Airflow connection of the Slack webhook for alerts.")
ALERT_EMAIL = _setting("ALERT_EMAIL", None, "Comma-separated recipients of alert e-mails.")
SMTP_CONN_ID = _setting("SMTP_CONN_ID", "smtp_default", "Airflow SMTP connection for alert e-mails.")
WAREHOUSE_POOL = _setting("WAREHOUSE_POOL", "warehouse", "Airflow pool that serialises warehouse loads in `s3_event_pipeline`.")
SENSOR_POKE_SECONDS = _setting("SENSOR_POKE_SECONDS", "300", "How often `s3_event_pipeline`'s sensor looks for the day's objects.")
SENSOR_TIMEOUT_HOURS = _setting("SENSOR_TIMEOUT_HOURS", "12", "How long `s3_event_pipeline`'s sensor waits for them.")

REGISTRY: tuple[Setting, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Setting))


def markdown_table() -> str:
    """README's table of settings."""
    rows = ["| Setting | Default | Read by | What it does |", "|---|---|---|---|"]
    for s in REGISTRY:
        default = f"`{s.default}`" if s.default is not None else "unset"
        rows.append(f"| `{s.name}` | {default} | {s.read_by} | {s.description} |")
    return "\n".join(rows)
