"""The operators on their own: ``op.execute(context)`` with a minimal context, on the
embedded defaults (file:// bucket, SQLite metadata). The full DAG runs in
test_airflow_dags.py."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from airflow.sdk.exceptions import AirflowFailException

from conftest import DS
from marketing_core.airflow.operators import (
    GenerateDatasetOperator,
    UploadFilesOperator,
    ValidateFileOperator,
    run_ds,
)
from marketing_core.exceptions import ConflictError, InvalidArgumentError, StorageError, ValidationError


class TI:
    dag_id, task_id, run_id, try_number = "unit", "op", "manual__1", 1


def metrics(caplog) -> list[dict]:
    records = caplog.get_records("setup") + caplog.records
    return [json.loads(r.getMessage()) for r in records if r.name == "marketing_core.metrics"]


@pytest.fixture
def generated(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="marketing_core.metrics")
    out = {}
    for name in ("campaigns", "forms", "pages", "contacts"):
        op = GenerateDatasetOperator(task_id=f"generate_{name}", dataset=name, out_dir=str(tmp_path / "in"),
                                     ds=DS, scale_factor="0.01", seed="5", defects='{"bad_email": 0.05}')
        out[name] = op.execute({"ti": TI()})
    return out


def test_generate_returns_a_summary_and_logs_one_metrics_line(generated, caplog):
    contacts = generated["contacts"]
    assert contacts["dataset"] == "contacts" and contacts["ds"] == DS and contacts["rows_out"] == 1000
    assert contacts["path"].endswith(f"contacts_{DS}.csv") and not contacts["skipped"]
    assert contacts["defect_counts"]["bad_email"] > 0
    json.dumps(contacts)  # XCom-able
    lines = [m for m in metrics(caplog) if m["dataset"] == "contacts"]
    assert len(lines) == 1
    assert lines[0]["status"] == "success" and lines[0]["rows_out"] == 1000 and lines[0]["dag_id"] == "unit"
    assert lines[0]["duration_ms"] >= 0


def test_validate_summary_lists_the_new_failure_signatures_once(generated, tmp_path):
    def validate():
        op = ValidateFileOperator(task_id="validate_contacts", path=generated["contacts"]["path"], dataset="contacts",
                                  ds=DS, out_dir=str(tmp_path / "out"), references=str(tmp_path / "in"),
                                  metadata=str(tmp_path / "meta.sqlite"))
        return op.execute({"ti": TI()})

    first = validate()
    assert first["rows_in"] == first["rows_valid"] + first["rows_invalid"] == 1000
    assert first["rows_invalid"] == generated["contacts"]["defect_counts"]["bad_email"]
    assert [f["check"] for f in first["new_failures"]] == ["pattern:email"]
    assert first["new_failures"][0]["rows_failed"] == first["rows_invalid"]
    assert first["report_path"].endswith(f"dq-reports/contacts/ds={DS}/report.json")
    assert validate()["new_failures"] == []  # same defect again: a known signature


def test_validate_fails_the_task_on_an_unreadable_file(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="marketing_core.metrics")
    bad = tmp_path / f"form_fills_{DS}.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    op = ValidateFileOperator(task_id="validate_form_fills", path=str(bad), out_dir=str(tmp_path / "out"))
    # The same file fails the same way on every attempt: failed at once, not retried.
    with pytest.raises(AirflowFailException, match="ValidationError: .*form_fills_2025-05-25.parquet") as failed:
        op.execute({"ti": TI()})
    assert isinstance(failed.value.__cause__, ValidationError)
    assert metrics(caplog)[-1]["status"] == "failed"


def test_upload_is_idempotent_and_refuses_changed_content(tmp_path):
    root = tmp_path / "validated" / "valid-data" / "contacts" / f"ds={DS}"
    root.mkdir(parents=True)
    (root / f"contacts_{DS}.csv").write_text("contact_id\nC1\n")

    def upload():
        op = UploadFilesOperator(task_id="upload", root=str(tmp_path / "validated"), patterns=[f"valid-data/*/ds={DS}/*"],
                                 bucket="marketing-data", store=f"file://{tmp_path / 'bucket'}", aws_conn_id="")
        return op.execute({"ti": TI()})

    first = upload()
    assert first["counts"]["uploaded"] == 1
    assert first["uris"] == [f"file://{tmp_path / 'bucket'}/marketing-data/valid-data/contacts/ds={DS}/contacts_{DS}.csv"]
    assert upload()["counts"] == {"uploaded": 0, "skipped": 1, "conflict": 0, "failed": 0}
    (root / f"contacts_{DS}.csv").write_text("contact_id\nC2\n")
    with pytest.raises(AirflowFailException, match="ConflictError") as failed:
        upload()
    assert isinstance(failed.value.__cause__, ConflictError)


@pytest.mark.parametrize("argument, value, message", [
    ("defects", '{"bad_emial": 0.1}', "unknown defect kind \"bad_emial\""),
    ("defects", '{"bad_email": 1.5}', "bad_email"),
    ("defects", '{"bad_email": "lots"}', "defects: cannot use"),
    ("scale_factor", "big", "scale_factor: cannot use 'big'"),
    ("seed", "4.5", "seed: cannot use '4.5'"),
])
def test_a_bad_argument_fails_the_task_at_once_naming_it(tmp_path, argument, value, message):
    args = {"scale_factor": "0.01", "seed": "5", "defects": None, argument: value}
    op = GenerateDatasetOperator(task_id="generate_contacts", dataset="contacts", out_dir=str(tmp_path), ds=DS, **args)
    with pytest.raises(AirflowFailException, match=message) as failed:
        op.execute({"ti": TI()})
    assert isinstance(failed.value.__cause__, InvalidArgumentError)
    assert not list(tmp_path.iterdir())  # nothing written


def test_an_unreachable_store_is_a_transient_error_that_airflow_retries(tmp_path):
    root = tmp_path / "validated" / "valid-data" / "contacts" / f"ds={DS}"
    root.mkdir(parents=True)
    (root / f"contacts_{DS}.csv").write_text("contact_id\nC1\n")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    op = UploadFilesOperator(task_id="upload", root=str(tmp_path / "validated"), patterns=["**/*"],
                             bucket="marketing-data", store="s3://", aws_conn_id="")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        mp.setenv("AWS_REGION", "us-east-1")
        with pytest.raises(StorageError) as raised:
            op.execute({"ti": TI()})
    assert not isinstance(raised.value, AirflowFailException) and type(raised.value) is StorageError


def test_the_day_comes_from_the_argument_the_logical_date_or_the_run():
    import datetime as dt

    class Run:
        run_after = dt.datetime(2025, 6, 1, 3, tzinfo=dt.timezone.utc)

    assert run_ds("2025-05-01", {"ds": "2025-05-02"}) == "2025-05-01"
    assert run_ds(None, {"ds": "2025-05-02"}) == "2025-05-02"
    assert run_ds("", {"dag_run": Run()}) == "2025-06-01"


def test_operators_template_their_paths_and_days():
    assert {"ds", "out_dir", "scale_factor", "seed", "defects"} <= set(GenerateDatasetOperator.template_fields)
    assert {"path", "ds", "out_dir", "references", "metadata"} <= set(ValidateFileOperator.template_fields)
    assert {"root", "patterns", "bucket", "store", "aws_conn_id"} <= set(UploadFilesOperator.template_fields)
