"""
### marketing_pipeline: one day of marketing data, generated → validated → uploaded → modelled

1. **generate**: the six datasets for the day (`campaigns`, `forms`, `pages` in parallel,
   then `contacts`, then `form_fills` and `website_activity`), deterministic for the seed,
   sized by `scale_factor`; `defects` injects known bad rows (e.g. `{"bad_email": 0.01}`;
   only the generator's kinds, rates in [0, 1]: a bad conf is refused when the run is
   triggered).
2. **validate**: each file against its data contract; foreign keys are checked against
   that day's dimension and contact files. Good rows go on, bad rows are quarantined with
   the checks they failed; checks and failure signatures go to the metadata store.
3. **upload**: valid data, quarantine data and DQ reports to `valid-data/`,
   `quarantine-data/` and `dq-reports/` in the bucket, idempotently (a rerun sends nothing).
4. **check_new_dq_failures**: only failure signatures never seen before alert
   (`notify_dq_failure`, Slack / email / log); the same defect on the next day is quiet.
   Bad rows never block good ones: the main path always continues.
5. **load_raw** then **transform**: the day's valid files into the warehouse raw tables,
   then the dbt project for the day through astronomer-cosmos, one task per model
   (`dbt build` of the model and its tests: staging → core marts → KPI marts), so a mart
   is built only once its parents' tests passed; a test on two models runs in its own
   task once both are built.
6. **summarize**: rows per dataset and stage, DQ results, alerts, uploads, marts, KPIs.

Embedded defaults (no accounts): files under `data_dir` (default `$MARKETING_CORE_DATA_DIR`),
a `file://` bucket there, SQLite metadata and DuckDB. For MinIO/S3 set `aws_conn_id` (an
`aws` connection with `endpoint_url` in its extras for MinIO) or `store` = `s3://`; for
Snowflake set `MARKETING_CORE_DBT_TARGET=snowflake` (and the `SNOWFLAKE_*` variables). On a multi-worker deployment (Celery /
Kubernetes executors) `data_dir` must be a volume shared by the workers.
"""

from __future__ import annotations


from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator
from airflow.sdk import DAG, Param, TaskGroup

from marketing_core.airflow.dag_defaults import (
    DS,
    DUCKDB,
    START_DATE,
    day_param,
    default_args,
    generation_params,
    warehouse_target,
)
from marketing_core.airflow.operators import (
    GenerateDatasetOperator,
    LoadRawDayOperator,
    UploadFilesOperator,
    ValidateFileOperator,
)
from marketing_core.airflow.steps import alert_new_dq_failures, choose_dq_path, summarize_day
from marketing_core.airflow.transform import dbt_task_group
from marketing_core import layout
from marketing_core.generation import DATASETS
from marketing_core.pipeline import DayPaths, day_upload_patterns, default_data_dir
from marketing_core import settings

DAG_ID = "marketing_pipeline"
DATA = "{{ params.data_dir }}"
STORE = "{{ params.store or 'file://' ~ params.data_dir ~ '/" + DayPaths.BUCKET + "' }}"
TARGET = warehouse_target()
INCOMING = f"{DATA}/{DayPaths.INCOMING}"
VALIDATED = f"{DATA}/{DayPaths.VALIDATED}"
METADATA = f"{DATA}/{DayPaths.METADATA}"

# Generation order inside the `generate` group: dimensions, then contacts, then facts.
DIMENSIONS = ("campaigns", "forms", "pages")
FACTS = ("form_fills", "website_activity")


with DAG(
    dag_id=DAG_ID,
    description="Marketing data for one day: generate, validate, upload, load, dbt build",
    doc_md=__doc__,
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["marketing", "marketing_core"],
    params={
        "ds": day_param(),
        **generation_params(),
        "data_dir": Param(str(default_data_dir()), type="string", description="Local working directory"),
        "bucket": Param("marketing-data", type="string"),
        "store": Param(settings.STORE_URL.get() or "", type="string",
                       description="s3:// or file://DIR (default: a file:// bucket under data_dir)"),
        "aws_conn_id": Param(settings.AWS_CONN_ID.get() or "", type="string",
                             description="Airflow aws connection for S3/MinIO (overrides store)"),
        "duckdb_path": Param("", type="string", description="DuckDB file (default: under data_dir)"),
    },
) as dag:
    with TaskGroup("generate", tooltip="Write the six datasets for the day") as generate:
        gen = {
            name: GenerateDatasetOperator(
                task_id=name,
                dataset=name,
                ds=DS,
                out_dir=INCOMING,
                scale_factor="{{ params.scale_factor }}",
                seed="{{ params.seed }}",
                defects="{{ params.defects | tojson }}",
            )
            for name in DATASETS
        }
        [gen[d] for d in DIMENSIONS] >> gen["contacts"] >> [gen[f] for f in FACTS]

    with TaskGroup("validate", tooltip="Check each file against its contract; quarantine bad rows") as validate:
        checks = {
            name: ValidateFileOperator(
                task_id=name,
                dataset=name,
                path=f"{{{{ ti.xcom_pull(task_ids='generate.{name}')['path'] }}}}",
                ds=DS,
                out_dir=VALIDATED,
                references=INCOMING,
                metadata=METADATA,
            )
            for name in DATASETS
        }
    validate_ids = [t.task_id for t in checks.values()]

    with TaskGroup("upload", tooltip="Idempotent upload to the bucket") as upload:
        uploads = {
            kind: UploadFilesOperator(
                task_id=kind.replace("-", "_"),
                root=VALIDATED,
                patterns=day_upload_patterns(DS, kind),
                bucket="{{ params.bucket }}",
                store=STORE,
                aws_conn_id="{{ params.aws_conn_id }}",
                metadata=METADATA,
                # A DQ report describes its run: the latest replaces the previous one.
                policy="replace" if kind == layout.DQ_REPORTS else "refuse",
            )
            for kind in layout.KINDS
        }

    branch = BranchPythonOperator(
        task_id="check_new_dq_failures",
        python_callable=lambda **context: choose_dq_path(
            context, validate_ids, "alert_new_dq_failures", "no_new_dq_failures"
        ),
    )
    alert = PythonOperator(
        task_id="alert_new_dq_failures",
        python_callable=lambda **context: alert_new_dq_failures(context, validate_ids),
    )
    quiet = EmptyOperator(task_id="no_new_dq_failures")

    load_raw = LoadRawDayOperator(
        task_id="load_raw",
        ds=DS,
        bucket="{{ params.bucket }}",
        store=STORE,
        aws_conn_id="{{ params.aws_conn_id }}",
        target=TARGET,
        duckdb=DUCKDB,
        metadata=METADATA,
    )
    # One task per dbt model (astronomer-cosmos): `dbt build` of the model and its tests,
    # downstream of its parents' tasks (whose tests they ran); two-model tests on their own.
    transform = dbt_task_group("transform", ds=DS, target=TARGET, duckdb=DUCKDB)
    summarize = PythonOperator(
        task_id="summarize",
        trigger_rule="none_failed",
        python_callable=lambda templates_dict, **context: summarize_day(context, **templates_dict),
        templates_dict={
            "ds": DS,
            "generate_ids": [t.task_id for t in gen.values()],
            "validate_ids": validate_ids,
            "upload_ids": {"valid_data": "upload.valid_data", "quarantine_data": "upload.quarantine_data",
                           "dq_reports": "upload.dq_reports"},
            "alert_id": "alert_new_dq_failures",
            "load_id": "load_raw",
            "target": TARGET,
            "duckdb": DUCKDB,
        },
    )

    generate >> validate >> upload >> load_raw >> transform >> summarize
    validate >> branch >> [alert, quiet]
    [alert, quiet] >> summarize
