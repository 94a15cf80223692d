"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked
instead, against the code it has to stay in step with: the services Airflow 3 needs, the
mounts of the DAGs and the dbt project, the S3 connection the DAGs use, the environment
variables the package reads, the pins of the image, and no secret in the file."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import REPO

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_airflow_3_services_postgres_and_minio_with_the_bucket_created(compose):
    services = compose["services"]
    assert {"postgres", "minio", "minio-init", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "airflow pools set warehouse" in init
    assert "mc mb --ignore-existing local/marketing-data" in " ".join(services["minio-init"]["command"])
    for name, service in services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services, (name, dep)
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], dep
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)  # nothing listens beyond this machine


def test_airflow_services_share_one_image_with_the_wheel_and_the_project_mounted(compose):
    services = compose["services"]
    for name in ("airflow-init", *AIRFLOW_SERVICES):
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
        env = service["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
        assert (REPO / mounts[env["AIRFLOW__CORE__DAGS_FOLDER"]].lstrip("./")).is_dir()
        dbt = mounts[env["MARKETING_CORE_DBT_PROJECT_DIR"]]
        assert (REPO / dbt.lstrip("./") / "dbt_project.yml").is_file()
        assert env["MARKETING_CORE_DATA_DIR"] in mounts  # a volume shared by every service
    dockerfile = (REPO / "docker/Dockerfile").read_text()
    assert "maturin build --release" in dockerfile and "/wheels/*.whl" in dockerfile
    assert re.search(r"FROM apache/airflow:\$\{AIRFLOW_VERSION\}", dockerfile)
    lock = (REPO / "requirements/dev.lock").read_text()
    airflow_version = re.search(r"ARG AIRFLOW_VERSION=(\S+)", dockerfile).group(1)
    assert f"\napache-airflow=={airflow_version}\n" in lock
    for line in (REPO / "requirements/airflow-image.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert f"\n{line}\n" in lock, f"{line} differs from requirements/dev.lock"


def test_the_s3_connection_points_at_minio_and_the_dags_use_it(compose):
    env = compose["x-airflow-common"]["environment"]
    conn_id = env["MARKETING_CORE_AWS_CONN_ID"]
    raw = env[f"AIRFLOW_CONN_{conn_id.upper()}"]
    conn = json.loads(re.sub(r"\$\{[^}]+\}", "X", raw))
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == "http://minio:9000"
    assert "minio" in compose["services"]
    for dag in ("marketing_pipeline.py", "s3_event_pipeline.py"):
        assert "settings.AWS_CONN_ID.get()" in (REPO / "airflow_dags" / dag).read_text()


def test_every_marketing_core_variable_is_one_the_code_reads(compose):
    """MARKETING_CORE_* names come from the settings registry (tests/test_settings.py
    checks each entry has a reader); DBT_* ones (dbt's own) must be ones the code also sets or reads."""
    from marketing_core import settings

    registered = {s.name for s in settings.REGISTRY}
    code = "\n".join(p.read_text() for p in [*(REPO / "python").rglob("*.py"), *(REPO / "airflow_dags").glob("*.py"),
                                              *(REPO / "dbt").rglob("*.yml"), *(REPO / "dbt").rglob("*.sql")])
    env = compose["x-airflow-common"]["environment"]
    for name in env:
        if name.startswith("MARKETING_CORE_"):
            assert name in registered, f"{name} is set in docker-compose.yml but is no registered setting"
        elif name.startswith("DBT_"):
            assert name in code, f"{name} is set in docker-compose.yml but nothing reads it"


def test_no_secret_is_written_in_the_file(compose):
    text = (REPO / "docker-compose.yml").read_text()
    for key in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "MINIO_ROOT_USER", "AIRFLOW_JWT_SECRET"):
        assert re.search(r"\$\{" + key + r":\?", text), f"{key} must come from .env"
    assert (REPO / ".env.example").is_file() and ".env" in (REPO / ".gitignore").read_text().split()
