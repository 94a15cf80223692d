"""The DAGs with real parts: Airflow 3 runs them in-process with ``dag.test()`` (SQLite
metadata), uploads go to a real S3 server (SeaweedFS on 127.0.0.1), the warehouse is DuckDB
read by dbt, alerts go to a local stand-in for Slack's webhook.

One module-scoped scenario runs the days in order and each test asserts one behaviour:
- day 1, clean, whose S3 connection only appears after the first upload attempt failed
  (a transient failure: the tasks are retried and the run succeeds);
- day 2 with injected defects (quarantine exactly the injected rows, alert once);
- day 2 again (uploads nothing, adds no mart rows, no alert);
- day 3 with the same defects (a known failure signature: no alert);
- the sensor DAG for day 2 (objects exist) and for day 4 (objects land while it waits);
- day 3 again with every contact twice in the bucket (a staging test fails: the marts on
  it are not built);
- day 5 with a bucket name S3 refuses (a deterministic error: one attempt, one alert).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
import uuid

import pytest

from conftest import REPO, Webhook
from s3_server import ACCESS_KEY, REGION, SECRET_KEY

DAY1, DAY2, DAY3, DAY4, DAY5 = "2025-05-25", "2025-05-26", "2025-05-27", "2025-05-28", "2025-05-29"
SCALE = 0.01
DEFECTS = {"bad_email": 0.02, "orphan_foreign_key": 0.01, "duplicate_key": 0.005}
CONN_ID = "mc_dag_s3"
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"


def airflow_db() -> str:
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")


def task_state(dag_id: str, task_id: str) -> str | None:
    """The latest state of a task, read straight from Airflow's SQLite database (safe from
    a helper thread while ``dag.test()`` runs in the main one)."""
    try:
        with sqlite3.connect(airflow_db(), timeout=10) as con:
            row = con.execute(
                "select state from task_instance where dag_id = ? and task_id = ? order by start_date desc limit 1",
                (dag_id, task_id),
            ).fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


class When(threading.Thread):
    """Runs ``action`` in a helper thread as soon as ``condition()`` holds; ``join()``
    re-raises what the action raised, or fails when the condition never held."""

    def __init__(self, condition, action, timeout: float = 600.0):
        super().__init__(daemon=True)
        self.condition, self.action, self.timeout = condition, action, timeout
        self.done, self.error = False, None
        self.start()

    def run(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.condition():
                try:
                    self.action()
                    self.done = True
                except BaseException as exc:  # noqa: BLE001 - re-raised in join()
                    self.error = exc
                return
            time.sleep(0.2)

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error
        assert self.done, "the condition never held"


def bucket_objects(s3, bucket: str) -> dict[str, str]:
    client = s3.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            found[o["Key"]] = o["ETag"]
    return found


def injected_rows(generated: dict) -> int:
    """Rows the generator's truth manifest lists as defective (both copies of a duplicate)."""
    if not generated.get("defects_path"):
        return 0
    defects = json.load(open(generated["defects_path"]))["defects"]
    return len({d["row"] for d in defects} | {d["partner_row"] for d in defects if "partner_row" in d})


pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def scenario(s3, tmp_path_factory):
    from marketing_core.airflow import local

    data_dir = tmp_path_factory.mktemp("dag-data")
    bucket = f"dag-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    connection = json.dumps({
        "conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
        "extra": {"endpoint_url": s3.endpoint, "region_name": REGION},
    })
    hook = Webhook()
    metrics = MetricsLines()
    logging.getLogger("marketing_core.metrics").addHandler(metrics)
    conf = {"scale_factor": SCALE, "seed": 11, "data_dir": str(data_dir), "bucket": bucket, "aws_conn_id": CONN_ID}
    out: dict = {"bucket": bucket, "data_dir": data_dir, "alerts": hook.received, "metrics": metrics.lines}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SLACK_WEBHOOK", hook.connection)
        mp.setenv("MARKETING_CORE_RETRY_DELAY_SECONDS", "2")
        mp.setenv("MARKETING_CORE_SENSOR_POKE_SECONDS", "2")
        mp.setenv("MARKETING_CORE_SENSOR_TIMEOUT_HOURS", "0.05")  # never hang the suite
        mp.delenv(CONN_ENV, raising=False)

        def run(dag_id: str, ds: str, **extra):
            return local.run_dag(dag_id, ds=ds, conf={**conf, "ds": ds, **extra})

        # Day 1: the S3 connection is defined only once the first upload attempt failed.
        watcher = When(lambda: task_state("marketing_pipeline", "upload.valid_data") == "up_for_retry",
                       lambda: os.environ.__setitem__(CONN_ENV, connection))
        out["day1"] = run("marketing_pipeline", DAY1)
        watcher.join(timeout=1)
        out["alerts_after_day1"] = len(hook.received)
        out["day2"] = run("marketing_pipeline", DAY2, defects=DEFECTS)
        out["objects_after_day2"] = bucket_objects(s3, bucket)
        out["alerts_after_day2"] = len(hook.received)
        out["day2_again"] = run("marketing_pipeline", DAY2, defects=DEFECTS)
        out["objects_after_rerun"] = bucket_objects(s3, bucket)
        out["alerts_after_rerun"] = len(hook.received)
        out["day3"] = run("marketing_pipeline", DAY3, defects=DEFECTS)
        out["alerts_after_day3"] = len(hook.received)

        out["sensor_day2"] = run("s3_event_pipeline", DAY2)

        # Day 4: nothing in the bucket yet; the data lands while the sensor waits.
        def land_day4():
            import marketing_core as mc

            day = mc.generate_day(DAY4, data_dir / "day4-in", scale_factor=SCALE, seed=11)
            for r in day:
                mc.validate(r.path, ds=DAY4, out_dir=data_dir / "day4-out", references=data_dir / "day4-in")
            out["day4_landed"] = mc.upload_tree(
                data_dir / "day4-out", [f"valid-data/*/ds={DAY4}/*"], bucket=bucket,
                store=mc.StoreConfig(url="s3://", endpoint_url=s3.endpoint, region=REGION,
                                     access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY),
            )

        lander = When(lambda: task_state("s3_event_pipeline", "wait_for_valid_data") == "up_for_reschedule", land_day4)
        out["sensor_day4"] = run("s3_event_pipeline", DAY4)
        lander.join(timeout=1)

        # Day 3 again with every contact twice in the bucket (a second copy of the valid file,
        # written past validation): the staging model's unique test fails in its build task.
        client = s3.client()
        contacts = next(k for k in bucket_objects(s3, bucket) if k.startswith(f"valid-data/contacts/ds={DAY3}/"))
        folder, name = contacts.rsplit("/", 1)
        client.copy_object(Bucket=bucket, Key=f"{folder}/copy-{name}", CopySource={"Bucket": bucket, "Key": contacts})
        out["alerts_before_duplicates"] = len(hook.received)
        out["day3_duplicates"] = run("marketing_pipeline", DAY3, defects=DEFECTS)
        out["alerts_after_duplicates"] = len(hook.received)

        # A bucket name the S3 rules refuse (passes the params, fails in the upload tasks).
        out["bad_bucket"] = run("marketing_pipeline", DAY5, bucket="Marketing_Data")
        out["alerts_after_bad_bucket"] = len(hook.received)
    hook.close()
    logging.getLogger("marketing_core.metrics").removeHandler(metrics)
    return out


class MetricsLines(logging.Handler):
    """Collects the JSON metrics lines the tasks log."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(record.getMessage()))


def by_dataset(run, prefix: str) -> dict[str, dict]:
    return {task_id.split(".", 1)[1]: v for task_id, v in run.xcoms.items() if task_id.startswith(prefix + ".")}


def test_the_dags_import_cleanly_and_every_task_retries_with_callbacks():
    from airflow.dag_processing.dagbag import DagBag

    from marketing_core.airflow.callbacks import notify_failure

    bag = DagBag(dag_folder=str(REPO / "airflow_dags"))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"marketing_pipeline", "s3_event_pipeline"}
    for dag in bag.dags.values():
        assert dag.doc_md and dag.dag_id in dag.doc_md  # the docstring documents the DAG in the UI
        assert len(dag.topological_sort()) == len(dag.tasks)  # acyclic
        for task in dag.tasks:
            assert task.retries == 3, task.task_id
            assert task.retry_delay == dt.timedelta(minutes=5), task.task_id
            assert task.retry_exponential_backoff and task.max_retry_delay == dt.timedelta(minutes=30)
            callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
            assert notify_failure in callbacks, task.task_id
    pipeline = bag.get_dag("marketing_pipeline")
    assert {t.task_id for t in pipeline.task_group_dict["generate"].children.values()} == {
        f"generate.{d}" for d in ("campaigns", "forms", "pages", "contacts", "form_fills", "website_activity")}
    contacts = pipeline.get_task("generate.contacts")
    assert {t for t in contacts.upstream_task_ids} == {"generate.campaigns", "generate.forms", "generate.pages"}
    assert contacts.downstream_task_ids == {"generate.form_fills", "generate.website_activity"}
    # transform: one cosmos task per dbt model, a `dbt build` of the model and its tests, in
    # the project's order: a mart starts only once its parents' tests passed.
    builds = {t.removeprefix("transform.").removesuffix("_model_build"): pipeline.get_task(t)
              for t in pipeline.task_ids if t.startswith("transform.") and t.endswith("_model_build")}
    assert {"stg_marketing__contacts", "stg_marketing__form_fills", "mart_contacts", "mart_lead_funnel"} <= set(builds)
    for model, task in builds.items():
        assert task.base_cmd == ["build"], model  # the model, then its tests, in one task
    assert pipeline.get_task("transform.mart_contacts_model_build").upstream_task_ids == {
        "transform.stg_marketing__contacts_model_build"}
    assert {"transform.mart_contacts_model_build", "transform.mart_form_fills_model_build",
            "transform.mart_website_activity_model_build"} == pipeline.get_task(
        "transform.mart_lead_funnel_model_build").upstream_task_ids
    # A test on two models runs once both are built, in its own task.
    relationship = pipeline.get_task(
        "transform.relationships_stg_marketing__form_fills_contact_id__contact_id__ref_stg_marketing__contacts__test")
    assert relationship.upstream_task_ids == {"transform.stg_marketing__contacts_model_build",
                                              "transform.stg_marketing__form_fills_model_build"}
    assert not [t for t in pipeline.task_ids if t.startswith("transform.") and "dbt_test" in t]  # no test-everything task
    assert pipeline.get_task("check_new_dq_failures").downstream_task_ids == {"alert_new_dq_failures", "no_new_dq_failures"}
    sensor = bag.get_dag("s3_event_pipeline").get_task("wait_for_valid_data")
    assert sensor.mode == "reschedule"
    assert {t.pool for t in bag.get_dag("s3_event_pipeline").tasks if t.task_id != "wait_for_valid_data"} == {"warehouse"}


@pytest.fixture(scope="module")
def pipeline_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "airflow_dags")).get_dag("marketing_pipeline")


@pytest.mark.parametrize("conf, message", [
    ({"defects": {"bad_emial": 0.01}}, "'bad_emial' was unexpected"),
    ({"defects": {"bad_email": 1.5}}, "1.5 is greater than the maximum of 1"),
    ({"defects": {"bad_email": "0.1"}}, "'0.1' is not of type 'number'"),
    ({"scale_factor": 0}, "0 is less than or equal to the minimum of 0"),
    ({"seed": -1}, "-1 is less than the minimum of 0"),
    ({"seed": 1.5}, "1.5 is not of type 'integer'"),
    ({"ds": "2025-13-01"}, "'2025-13-01' is not a 'date'"),
    ({"ds": "26.05.2025"}, "'26.05.2025' is not a 'date'"),
])
def test_a_bad_run_conf_is_refused_when_the_run_is_triggered(pipeline_dag, conf, message):
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    from marketing_core.generation import DEFECT_KINDS

    dag = pipeline_dag
    good = copy.deepcopy(dag.params)
    good.update({"ds": DAY1, "scale_factor": 0.5, "seed": 0, "defects": {kind: 0.01 for kind in DEFECT_KINDS}})
    assert good.validate()["defects"] == {kind: 0.01 for kind in DEFECT_KINDS}  # every kind the generator knows
    with pytest.raises(ParamValidationError, match=message):
        params = copy.deepcopy(dag.params)
        params.update(conf)
        params.validate()


def test_a_bad_run_conf_runs_no_task(pipeline_dag):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="bad_emial"):
        pipeline_dag.test(run_conf={"ds": DAY1, "defects": {"bad_emial": 0.01}})
    with sqlite3.connect(airflow_db()) as con:
        assert con.execute("select count(*) from dag_run where conf like '%bad_emial%'").fetchone()[0] == 0


def test_a_transient_failure_is_retried_and_a_clean_day_lands_in_the_marts(scenario, s3):
    run = scenario["day1"]
    assert run.succeeded, run.task_states
    # The uploads failed once (no S3 connection yet), were retried, and succeeded.
    assert run.try_numbers["upload.valid_data"] == 2 and run.task_states["upload.valid_data"] == "success"
    assert run.try_numbers["generate.contacts"] == 1
    assert scenario["alerts_after_day1"] == 0  # retried, not failed: no failure alert
    assert run.task_states["no_new_dq_failures"] == "success"
    assert run.task_states["alert_new_dq_failures"] == "skipped"
    summary = run.xcom("summarize")
    for d in summary["datasets"]:
        assert d["rows_invalid"] == 0 and d["rows_valid"] == d["generated"] == d["loaded"] > 0, d
    rows = {d["dataset"]: d["rows_valid"] for d in summary["datasets"]}
    assert summary["marts"]["mart_website_activity"] == rows["website_activity"]
    assert summary["marts"]["mart_form_fills"] == rows["form_fills"]
    assert summary["kpis"]["sessions"] == rows["website_activity"]
    keys = scenario["objects_after_day2"]
    for dataset in rows:
        assert any(k.startswith(f"valid-data/{dataset}/ds={DAY1}/") for k in keys), dataset
        assert f"dq-reports/{dataset}/ds={DAY1}/report.json" in keys


def test_a_day_with_defects_quarantines_exactly_the_injected_rows_and_alerts_once(scenario):
    run = scenario["day2"]
    assert run.succeeded, run.task_states
    generated, validated = by_dataset(run, "generate"), by_dataset(run, "validate")
    for dataset, g in generated.items():
        v = validated[dataset]
        assert v["rows_in"] == g["rows_out"] == v["rows_valid"] + v["rows_invalid"]
        assert v["rows_invalid"] == injected_rows(g), dataset
    assert validated["contacts"]["rows_invalid"] > 0
    assert run.task_states["alert_new_dq_failures"] == "success"
    assert run.task_states["no_new_dq_failures"] == "skipped"
    assert scenario["alerts_after_day2"] == 1
    alert = scenario["alerts"][0]["text"]
    assert "new data-quality failures" in alert and "pattern:email" in alert and "contacts" in alert
    # Bad rows never block good ones: the valid rows went on to the marts.
    summary = run.xcom("summarize")
    assert {d["dataset"]: d["loaded"] for d in summary["datasets"]} == {
        d: v["rows_valid"] for d, v in validated.items()}
    keys = scenario["objects_after_day2"]
    assert any(k.startswith(f"quarantine-data/contacts/ds={DAY2}/") for k in keys)


def test_a_rerun_of_the_same_day_uploads_nothing_adds_no_rows_and_does_not_alert(scenario):
    first, again = scenario["day2"], scenario["day2_again"]
    assert again.succeeded, again.task_states
    for task in ("upload.valid_data", "upload.quarantine_data"):
        counts = again.xcom(task)["counts"]
        assert counts["uploaded"] == 0 and counts["skipped"] == first.xcom(task)["counts"]["uploaded"] > 0
    before, after = scenario["objects_after_day2"], scenario["objects_after_rerun"]
    assert set(after) == set(before)  # no new object
    assert {k: v for k, v in after.items() if not k.startswith("dq-reports/")} == {
        k: v for k, v in before.items() if not k.startswith("dq-reports/")}  # data untouched
    assert again.xcom("summarize")["marts"] == first.xcom("summarize")["marts"]
    assert again.task_states["alert_new_dq_failures"] == "skipped"
    assert scenario["alerts_after_rerun"] == scenario["alerts_after_day2"]


def test_the_same_defects_on_the_next_day_do_not_alert_again(scenario):
    run = scenario["day3"]
    assert run.succeeded
    assert by_dataset(run, "validate")["contacts"]["rows_invalid"] > 0
    assert by_dataset(run, "validate")["contacts"]["new_failures"] == []
    assert run.task_states["alert_new_dq_failures"] == "skipped"
    assert scenario["alerts_after_day3"] == scenario["alerts_after_day2"]


def test_the_sensor_dag_loads_and_models_a_day_whose_objects_exist(scenario):
    run = scenario["sensor_day2"]
    assert run.succeeded, run.task_states
    assert run.try_numbers["wait_for_valid_data"] == 1
    loaded = run.xcom("load_raw")["loaded"]
    validated = by_dataset(scenario["day2"], "validate")
    assert loaded == {d: v["rows_valid"] for d, v in validated.items()}
    assert run.xcom("dbt_run")["results"] == {"success": run.xcom("dbt_run")["results"]["success"]}
    assert run.xcom("dbt_test")["results"].get("pass", 0) > 0
    assert not {"fail", "error"} & set(run.xcom("dbt_test")["results"])


def test_the_sensor_dag_waits_until_the_objects_land(scenario):
    run = scenario["sensor_day4"]
    assert run.succeeded, run.task_states
    landed = scenario["day4_landed"]
    assert landed.counts()["uploaded"] == 6
    loaded = run.xcom("load_raw")["loaded"]
    assert sum(loaded.values()) > 0 and loaded["website_activity"] > 0


def test_every_task_attempt_logs_one_json_metrics_line(scenario):
    run = scenario["day1"]
    lines = [m for m in scenario["metrics"] if m["run_id"] == run.run_id]
    ran = {t: n for t, n in run.try_numbers.items() if run.task_states[t] == "success"}
    assert {m["task_id"] for m in lines} == set(ran)  # cosmos, sensor and Python tasks too
    for task_id, tries in ran.items():
        mine = [m for m in lines if m["task_id"] == task_id]
        assert len(mine) == tries, task_id
        assert mine[-1]["status"] == "success" and mine[-1]["dag_id"] == "marketing_pipeline"
        assert mine[-1]["duration_ms"] is not None and mine[-1]["ds"] is not None
    assert [m["status"] for m in lines if m["task_id"] == "upload.valid_data"] == ["failed", "success"]
    contacts = next(m for m in lines if m["task_id"] == "validate.contacts")
    assert contacts["dataset"] == "contacts" and contacts["rows_in"] == contacts["rows_out"] > 0
    assert contacts["data_status"] == "passed"


def test_a_failed_staging_test_leaves_the_marts_on_it_unbuilt(scenario):
    run = scenario["day3_duplicates"]
    states = run.task_states
    assert run.state == "failed"
    # The model and its tests run in one task: the unique test on contact_id fails it.
    assert states["transform.stg_marketing__contacts_model_build"] == "failed"
    for mart in ("mart_contacts", "mart_lead_funnel"):
        assert states[f"transform.{mart}_model_build"] == "upstream_failed", mart
    assert states["transform.relationships_stg_marketing__form_fills_contact_id__contact_id__ref_stg_marketing__contacts__test"] == "upstream_failed"
    # Marts that do not read contacts are built as usual.
    for mart in ("mart_forms", "mart_pages", "mart_campaigns", "mart_form_fills"):
        assert states[f"transform.{mart}_model_build"] == "success", mart
    assert scenario["alerts_after_duplicates"] - scenario["alerts_before_duplicates"] == 1
    assert "stg_marketing__contacts_model_build" in scenario["alerts"][scenario["alerts_before_duplicates"]]["text"]


def test_a_deterministic_error_fails_its_task_at_once_with_one_alert(scenario):
    run = scenario["bad_bucket"]
    assert run.state == "failed"
    uploads = ("upload.valid_data", "upload.quarantine_data", "upload.dq_reports")
    for task in uploads:
        assert run.task_states[task] == "failed" and run.try_numbers[task] == 1, task  # no retry
    assert run.task_states["generate.contacts"] == run.task_states["validate.contacts"] == "success"
    assert run.task_states["load_raw"] == "upstream_failed"
    alerts = [a["text"] for a in scenario["alerts"][scenario["alerts_after_duplicates"]:]]
    assert len(alerts) == len(uploads)  # one per failed task, not one per attempt
    for task in uploads:
        assert sum(f"marketing_pipeline.{task}" in text for text in alerts) == 1, task
    assert all("InvalidBucketError" in text and "Marketing_Data" in text for text in alerts)
