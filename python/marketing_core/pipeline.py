"""The whole pipeline for one day, in-process, on the embedded defaults:
generate → validate (valid / quarantine split, reports, signatures) → idempotent upload to
the bucket → load raw tables → dbt build. Each step is the same library call the Airflow
operators make; this module only wires them for a laptop or a notebook.

Defaults (everything under ``data_dir``, default ``./data``): generated files in
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

__all__ = ["DayRun", "run_day"]


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
        return [
            {"dataset": r.dataset, "check": c.label, "rows_failed": c.rows_failed,
             "samples": list(c.samples), "signature": c.signature}
            for r in self.reports for c in r.checks if c.signature in r.new_signatures
        ]


def run_day(
    ds: str | _dt.date,
    *,
    data_dir: str | os.PathLike[str] = "data",
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
    from . import generation, storage, validation
    from .metadata import MetadataStore

    day = ds_string(ds)
    root = pathlib.Path(data_dir)
    incoming, validated, bucket_root = root / "incoming", root / "validated", root / "bucket"
    store = store or f"file://{bucket_root.resolve()}"
    metadata_store = MetadataStore(metadata or root / "metadata.sqlite")
    duckdb = duckdb or root / "warehouse" / "marketing.duckdb"
    run = DayRun(ds=day, data_dir=str(root))

    run.generated = generation.generate_day(
        day, incoming, scale_factor=scale_factor, seed=generation.DEFAULT_SEED if seed is None else seed,
        defects=defects, progress=progress,
    )
    for result in run.generated:
        run.reports.append(
            validation.validate(result.path, result.dataset, ds=day, out_dir=validated,
                                references=incoming, metadata=metadata_store)
        )
    # The validator already wrote the bucket layout: the key of each file is its path there.
    def keys_of(paths):
        return {p: pathlib.Path(p).resolve().relative_to(validated.resolve()).as_posix() for p in paths if p}

    data = keys_of(p for r in run.reports for p in (r.valid_path, r.quarantine_path))
    run.upload = storage.upload(list(data), keys=data, bucket=bucket, store=store, metadata=metadata_store)
    # Data files are deterministic, so a rerun finds them in place (refuse on any change).
    # A report describes its run (run id, timings): the latest replaces the previous one,
    # conditional on the ETag it replaces.
    reports = keys_of(r.report_path for r in run.reports)
    run.report_upload = storage.upload(list(reports), keys=reports, bucket=bucket, store=store,
                                       policy="replace", metadata=metadata_store)

    if warehouse:
        from . import warehouse as wh

        raw_root = str(bucket_root / bucket) if store.startswith("file://") else f"s3://{bucket}"
        run.loaded = wh.load_day(day, raw_root, duckdb=duckdb)
        wh.load_dq_checks(metadata_store.path, duckdb=duckdb)
        wh.build(ds=day, duckdb=duckdb)
        run.marts = wh.mart_counts(duckdb)
        run.kpis = wh.kpis(day, duckdb=duckdb)
    return run
