"""The Airflow image's Python environment, built without Docker: a fresh venv with only
what docker/Dockerfile installs (its Airflow pin, requirements/airflow-image.txt and the
marketing_core wheel built with ``maturin build --release``), in which both DAG files must
import with no error. It catches a dependency the DAGs need that the image lacks (as
astronomer-cosmos once was), which no test in the dev venv can see.

Marked ``image``: it builds the wheel (the Rust build cache is shared, so usually only a
link) and installs about 150 packages with uv from its cache; about a minute.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile

import pytest

from conftest import REPO

pytestmark = pytest.mark.image

UV = os.path.join(os.path.dirname(sys.executable), "uv")
MATURIN = os.path.join(os.path.dirname(sys.executable), "maturin")


def dockerfile_arg(name: str) -> str:
    """An ``ARG NAME=value`` default of docker/Dockerfile: the one place the pins live."""
    found = re.search(rf"^ARG {name}=(\S+)$", (REPO / "docker/Dockerfile").read_text(), re.MULTILINE)
    assert found, f"docker/Dockerfile has no ARG {name}=..."
    return found.group(1)


def run(args: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{' '.join(args[:3])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


# Run inside the image venv: import the DAGs folder the way the dag-processor does.
IMPORT_DAGS = textwrap.dedent("""
    import json, sys
    from marketing_core.airflow import local
    local.ensure_database()
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print(json.dumps({
        "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": {d.dag_id: sorted(d.task_ids) for d in bag.dags.values()},
        "marketing_core": __import__("marketing_core").__file__,
    }))
""")


def test_the_image_environment_imports_both_dags(tmp_path):
    airflow_version, python_version = dockerfile_arg("AIRFLOW_VERSION"), dockerfile_arg("PYTHON_VERSION")
    wheels = tmp_path / "wheels"
    # The environment `./dev setup` builds with (same target dir, interpreter and VIRTUAL_ENV),
    # so cargo reuses its release build instead of rebuilding the crate for other settings.
    venv_bin = os.path.dirname(sys.executable)
    env = {**os.environ, "VIRTUAL_ENV": os.path.dirname(venv_bin),
           "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
           "CARGO_TARGET_DIR": os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/marketing_core/target"))}
    run([MATURIN, "build", "--release", "--quiet", "--interpreter", sys.executable, "--out", str(wheels)],
        cwd=REPO, env=env, timeout=1800)
    [wheel] = wheels.glob("marketing_core-*.whl")
    # The shipped domain and its JSON Schemas are package data: the wheel carries them.
    packaged = set(zipfile.ZipFile(wheel).namelist())
    assert {"marketing_core/domains/domain.schema.json", "marketing_core/domains/dataset.schema.json",
            "marketing_core/domains/marketing/domain.json",
            "marketing_core/domains/marketing/datasets/contacts.json"} <= packaged

    venv = tmp_path / "image-venv"
    run([UV, "venv", "--quiet", "--python", python_version, str(venv)])
    python = venv / "bin" / "python"
    # The Dockerfile's install line, nothing else.
    run([UV, "pip", "install", "--quiet", "--python", str(python), f"apache-airflow=={airflow_version}",
         "-r", str(REPO / "requirements/airflow-image.txt"), str(wheel)])

    home = tmp_path / "airflow-home"
    home.mkdir()
    script = tmp_path / "import_dags.py"
    script.write_text(IMPORT_DAGS)
    # Only the image venv and the system on PATH: no dev venv, no repo sources on sys.path.
    # The DAGs and the dbt project are where docker-compose.yml mounts them from.
    image_env = {
        "HOME": str(tmp_path), "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MARKETING_CORE_DBT_PROJECT_DIR": str(REPO / "dbt"), "MARKETING_CORE_DATA_DIR": str(tmp_path / "data"),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"), "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
    }
    done = run([str(python), str(script), str(REPO / "airflow_dags")], cwd=tmp_path, env=image_env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["import_errors"] == {}
    assert result["marketing_core"].startswith(str(venv))  # the wheel, not the repo's sources
    assert set(result["dags"]) == {"marketing_pipeline", "s3_event_pipeline"}
    assert "transform.mart_contacts_model_build" in result["dags"]["marketing_pipeline"]  # cosmos rendered dbt
