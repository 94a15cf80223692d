"""The dbt project as Airflow tasks, through astronomer-cosmos: one task per model, a
``dbt build`` of that model and its tests (cosmos ``TestBehavior.BUILD``), wired in the
project's dependency order, so a model is built only once its parents' tests passed (a
failed staging test leaves the marts on it ``upstream_failed``, not built on bad data),
the UI shows every model and a failed model can be retried on its own. A test on two
models (a ``relationships`` test) runs in a task of its own once both are built
(``should_detach_multiple_parents_tests``), not inside either model's task, where the
other model could still be missing.

dbt runs in the worker's process (``InvocationMode.DBT_RUNNER``); the project is listed
with ``dbt ls`` when the DAG is parsed and cosmos caches the listing in an Airflow
Variable until the project's files change.
"""

from __future__ import annotations

from typing import Any
from marketing_core import settings


def dbt_task_group(
    group_id: str,
    *,
    ds: str,
    target: str,
    duckdb: str | None = None,
    operator_args: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """A cosmos ``DbtTaskGroup`` over the bundled project for the day ``ds`` (templated)
    on ``target`` (``duckdb`` or ``snowflake``, fixed when the DAG is parsed)."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    from marketing_core import warehouse

    project = warehouse.project_dir()
    env = {settings.DBT_TARGET.name: target, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if duckdb:
        settings.DUCKDB_PATH.set(duckdb, env)
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=project),
        profile_config=ProfileConfig(
            profile_name="marketing_core", target_name=target, profiles_yml_filepath=project / "profiles.yml"
        ),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={"vars": {"ds": ds}, "env": env, "install_deps": False, **(operator_args or {})},
        **kwargs,
    )
