"""The whole day in-process on the embedded defaults (file:// bucket, SQLite, DuckDB):
generate → validate → upload → load → dbt build, then a rerun of the same day."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import DS
from marketing_core.pipeline import run_day

DEFECTS = {"bad_email": 0.02, "orphan_foreign_key": 0.01, "duplicate_key": 0.005}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    first = run_day(DS, data_dir=root, scale_factor=0.01, seed=3, defects=DEFECTS,
                    duckdb=root / "wh.duckdb")
    second = run_day(DS, data_dir=root, scale_factor=0.01, seed=3, defects=DEFECTS,
                     duckdb=root / "wh.duckdb")
    return first, second


def expected_invalid(result) -> int:
    """Rows the truth manifest says are defective (with the copied rows of duplicates)."""
    if result.defects_path is None:
        return 0
    defects = json.load(open(result.defects_path))["defects"]
    rows = {d["row"] for d in defects} | {d["partner_row"] for d in defects if "partner_row" in d}
    return len(rows)


def test_bad_rows_are_quarantined_and_good_rows_land_in_the_marts(runs):
    first, _ = runs
    by_dataset = {r.dataset: r for r in first.reports}
    for generated in first.generated:
        report = by_dataset[generated.dataset]
        assert report.rows_in == generated.rows == report.rows_valid + report.rows_invalid
        assert report.rows_invalid == expected_invalid(generated), generated.dataset
    assert by_dataset["contacts"].rows_invalid > 0
    assert first.upload.counts()["uploaded"] == len(first.upload.files) and not first.upload.failed
    assert first.marts["mart_contacts"] == by_dataset["contacts"].rows_valid
    assert first.marts["mart_form_fills"] == by_dataset["form_fills"].rows_valid
    assert first.marts["mart_website_activity"] == by_dataset["website_activity"].rows_valid
    assert first.kpis["sessions"] == by_dataset["website_activity"].rows_valid
    assert {f["dataset"] for f in first.new_failures} == {"contacts", "form_fills", "website_activity"}


def test_a_rerun_uploads_nothing_adds_no_rows_and_raises_no_new_alert(runs):
    first, second = runs
    assert second.generated.rows == first.generated.rows
    assert all(r.skipped for r in second.generated)
    assert second.upload.counts()["skipped"] == len(second.upload.files)
    assert second.upload.write_requests == 0
    assert len(second.report_upload.files) == 6 and not second.report_upload.conflicts
    assert second.marts == first.marts
    assert second.new_failures == []


def test_the_readme_main_command_runs_the_dag_and_prints_a_readable_summary(tmp_path):
    """`./dev pipeline` runs this: the Airflow DAG through dag.test(), as on a fresh machine
    (no Airflow settings inherited from the test session)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MARKETING_CORE_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "marketing_core.cli", "pipeline", "--ds", DS, "--scale", "0.005", "--out", str(tmp_path),
         "--defects", "bad_email=0.02"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for text in ("Tasks of the DAG run: success", "generate.contacts", "Rows per dataset and stage, ds=2025-05-25",
                 "Data-quality alert: 1 new failure signature(s) sent via log: contacts pattern:email",
                 "Upload valid data", "mart_website_activity", "KPIs for 2025-05-25"):
        assert text in proc.stdout, text
    assert (tmp_path / "airflow" / "airflow.db").is_file()
    assert "task_metrics" in (tmp_path / "airflow" / f"marketing_pipeline_{DS}.log").read_text()
