"""
### s3_event_pipeline: model a day as soon as its valid data lands in S3

Event-driven counterpart of `marketing_pipeline`, for deployments where another system
(or `marketing_pipeline` on other workers) uploads the day's files:

1. **wait_for_valid_data**: an `S3KeySensor` in *reschedule* mode (it frees its worker
   slot between pokes) waits until every dataset has an object under
   `valid-data/<dataset>/ds=<ds>/` in the bucket;
2. **load_raw**: those objects into the warehouse raw tables (the day's rows replaced);
3. **dbt_run** then **dbt_test**: the models for the day, then every test.

The warehouse tasks run in the `warehouse` pool, which bounds how many days load and
transform at once (create it with `airflow pools set warehouse 1 "marketing warehouse"`).
S3 access comes from the `aws_conn_id` connection (MinIO: `endpoint_url` in its extras).
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import DAG, Param

from marketing_core.airflow.dag_defaults import DS, DUCKDB, START_DATE, day_param, default_args, warehouse_target
from marketing_core.airflow.operators import DbtOperator, LoadRawDayOperator
from marketing_core import layout
from marketing_core.generation import DATASETS
from marketing_core.pipeline import default_data_dir
from marketing_core import settings

DAG_ID = "s3_event_pipeline"
TARGET = warehouse_target()
WAREHOUSE_POOL = settings.WAREHOUSE_POOL.get()
# How often the sensor looks (seconds) and how long it waits for a day at most.
POKE_SECONDS = float(settings.SENSOR_POKE_SECONDS.get())
WAIT_HOURS = float(settings.SENSOR_TIMEOUT_HOURS.get())


with DAG(
    dag_id=DAG_ID,
    description="Wait for a day's valid data in S3, load it, dbt run, dbt test",
    doc_md=__doc__,
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=3,
    default_args=default_args(),
    tags=["marketing", "marketing_core", "s3"],
    params={
        "ds": day_param(),
        "bucket": Param("marketing-data", type="string"),
        "aws_conn_id": Param(settings.AWS_CONN_ID.get() or "aws_default", type="string"),
        "data_dir": Param(str(default_data_dir()), type="string", description="Local working directory"),
        "duckdb_path": Param("", type="string", description="DuckDB file (default: under data_dir)"),
    },
) as dag:
    wait = S3KeySensor(
        task_id="wait_for_valid_data",
        bucket_name="{{ params.bucket }}",
        bucket_key=[layout.day_pattern(layout.VALID_DATA, DS, name) for name in DATASETS],
        wildcard_match=True,
        aws_conn_id="{{ params.aws_conn_id }}",
        mode="reschedule",
        poke_interval=POKE_SECONDS,
        timeout=dt.timedelta(hours=WAIT_HOURS),
        exponential_backoff=False,
    )
    load_raw = LoadRawDayOperator(
        task_id="load_raw",
        ds=DS,
        bucket="{{ params.bucket }}",
        aws_conn_id="{{ params.aws_conn_id }}",
        target=TARGET,
        duckdb=DUCKDB,
        pool=WAREHOUSE_POOL,
    )
    dbt_run = DbtOperator(
        task_id="dbt_run", command="run", ds=DS, target=TARGET, duckdb=DUCKDB,
        pool=WAREHOUSE_POOL,
    )
    dbt_test = DbtOperator(
        task_id="dbt_test", command="test", ds=DS, target=TARGET, duckdb=DUCKDB,
        pool=WAREHOUSE_POOL,
    )
    wait >> load_raw >> dbt_run >> dbt_test
