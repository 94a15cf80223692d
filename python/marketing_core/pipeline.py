"""The whole pipeline for one day, in-process, on the embedded defaults:
generate → validate (valid / quarantine split, reports, signatures) → idempotent upload to
the bucket → load raw tables → dbt build. Each step is the same library call the Airflow
operators make; this module only wires them for a laptop or a notebook.

Defaults (everything under ``data_dir``, default ``$MARKETING_CORE_DATA_DIR`` or ``./data``): generated files in
``incoming/``, validation outputs in the bucket layout in ``validated/``, the bucket as a
local directory ``bucket/`` (``file://``), the metadata store ``metadata.sqlite``, the DuckDB
warehouse ``warehouse/marketing.duckdb``. ``store="s3://..."`` targets MinIO/S3 instead.
"""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._dates import ds_string
from . import settings

__all__ = ["DayPaths", "DayRun", "day_summary", "default_data_dir", "run_day"]


def default_data_dir() -> pathlib.Path:
    """``$MARKETING_CORE_DATA_DIR`` or ``./data``, absolute."""
    return pathlib.Path(settings.DATA_DIR.get()).resolve()


@dataclass(frozen=True)
class DayPaths:
    """Where the embedded defaults keep things under one data directory. The Airflow DAG
    and ``run_day`` use the same layout, so either can pick up after the other."""

    root: pathlib.Path

    INCOMING = "incoming"
    VALIDATED = "validated"
    BUCKET = "bucket"
    METADATA = "metadata.sqlite"
    DUCKDB = "warehouse/marketing.duckdb"

    @classmethod
    def of(cls, root: str | os.PathLike[str] | None = None) -> DayPaths:
        return cls(pathlib.Path(root).resolve() if root is not None else default_data_dir())

    @property
    def incoming(self) -> pathlib.Path:
        """Generated files, ``<dataset>_<ds>.<ext>``."""
        return self.root / self.INCOMING

    @property
    def validated(self) -> pathlib.Path:
        """Validation outputs in the bucket layout (valid-data/, quarantine-data/, dq-reports/)."""
        return self.root / self.VALIDATED

    @property
    def bucket_root(self) -> pathlib.Path:
        """The local object store: one directory per bucket."""
        return self.root / self.BUCKET

    @property
    def metadata(self) -> pathlib.Path:
        return self.root / self.METADATA

    @property
    def duckdb(self) -> pathlib.Path:
        return self.root / self.DUCKDB

    @property
    def store(self) -> str:
        """The embedded default store URL."""
        return f"file://{self.bucket_root}"


def day_upload_patterns(ds: str, *kinds: str) -> list[str]:
    """Glob patterns (relative to the validated directory) of one day's outputs of ``kinds``."""
    from . import layout

    return [layout.day_pattern(kind, ds) for kind in kinds]


def day_summary(
    ds: str,
    *,
    generated: list[Mapping[str, Any]],
    validated: list[Mapping[str, Any]],
    uploads: Mapping[str, Mapping[str, Any] | None],
    alerts: list[str] | None = None,
    loaded: Mapping[str, int] | None = None,
    marts: Mapping[str, int] | None = None,
    kpis: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One day's outcome as a JSON-able dict (what the CLI prints and the DAG's last task
    returns): rows per dataset and stage, DQ results, alerts, uploads, marts and KPIs."""
    by_dataset = {v["dataset"]: v for v in validated if v}
    datasets = []
    for g in generated:
        v = by_dataset.get(g["dataset"], {})
        datasets.append({
            "dataset": g["dataset"],
            "generated": g["rows_out"],
            "generated_skipped": g.get("skipped", False),
            "rows_in": v.get("rows_in"),
            "rows_valid": v.get("rows_valid"),
            "rows_invalid": v.get("rows_invalid"),
            "failed_checks": v.get("failed_checks", {}),
            "new_failures": len(v.get("new_failures", [])),
            "loaded": (loaded or {}).get(g["dataset"]),
        })
    return {
        "ds": ds,
        "datasets": datasets,
        "new_failures": [f for v in validated if v for f in v.get("new_failures", [])],
        "alerts": list(alerts or []),
        "uploads": {k: dict(v) for k, v in uploads.items() if v is not None},
        "marts": dict(marts) if marts is not None else None,
        "kpis": dict(kpis) if kpis else None,
    }


@dataclass
class DayRun:
    """What ``run_day`` did, step by step."""

    ds: str
    data_dir: str
    generated: Any = None
    reports: list[Any] = field(default_factory=list)
    upload: Any = None
    report_upload: Any = None
    loaded: Mapping[str, int] | None = None
    marts: Mapping[str, int] | None = None
    kpis: Mapping[str, Any] | None = None

    @property
    def new_failures(self) -> list[dict[str, Any]]:
        """Failed checks whose signature was seen for the first time in this run."""
        return [f for r in self.reports for f in r.new_failures]

    def summary(self) -> dict[str, Any]:
        from .generation import result_summary

        return day_summary(
            self.ds,
            generated=[result_summary(g) for g in self.generated],
            validated=[r.summary() for r in self.reports],
            uploads={"data": self.upload.summary() if self.upload else None,
                     "dq_reports": self.report_upload.summary() if self.report_upload else None},
            loaded=self.loaded, marts=self.marts, kpis=self.kpis,
        )


def run_day(
    ds: str | _dt.date,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    scale_factor: float = 1.0,
    seed: int | None = None,
    defects: Mapping[str, float] | None = None,
    store: str | None = None,
    bucket: str = "marketing-data",
    metadata: str | os.PathLike[str] | None = None,
    warehouse: bool = True,
    duckdb: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> DayRun:
    from . import generation, layout, storage, validation
    from .metadata import MetadataStore

    day = ds_string(ds)
    paths = DayPaths.of(data_dir)
    store = store or paths.store
    metadata_store = MetadataStore(metadata or paths.metadata)
    duckdb = duckdb or paths.duckdb
    run = DayRun(ds=day, data_dir=str(paths.root))

    run.generated = generation.generate_day(
        day, paths.incoming, scale_factor=scale_factor, seed=generation.DEFAULT_SEED if seed is None else seed,
        defects=defects, progress=progress,
    )
    for result in run.generated:
        run.reports.append(
            validation.validate(result.path, result.dataset, ds=day, out_dir=paths.validated,
                                references=paths.incoming, metadata=metadata_store)
        )
    # The validator wrote the bucket layout, so each file's key is its path there. Data
    # files are deterministic, so a rerun finds them in place (refuse on any change). A
    # report describes its run (run id, timings): the latest replaces the previous one,
    # conditional on the ETag it replaces.
    run.upload = storage.upload_tree(
        paths.validated, day_upload_patterns(day, layout.VALID_DATA, layout.QUARANTINE_DATA),
        bucket=bucket, store=store, metadata=metadata_store,
    )
    run.report_upload = storage.upload_tree(
        paths.validated, day_upload_patterns(day, layout.DQ_REPORTS),
        bucket=bucket, store=store, policy="replace", metadata=metadata_store,
    )

    if warehouse:
        from . import warehouse as wh

        run.loaded = wh.load_day(day, storage.bucket_location(store, bucket), duckdb=duckdb, store=store,
                                 metadata=metadata_store.path)
        wh.build(ds=day, duckdb=duckdb)
        run.marts = wh.mart_counts(duckdb)
        run.kpis = wh.kpis(day, duckdb=duckdb)
    return run
