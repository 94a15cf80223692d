"""Data validation: contracts, exact checks, a valid/quarantine split, reports and failure
signatures. The checks run in the Rust core (vectorised over Arrow data, in parallel, with
the GIL released); this module loads contracts, finds reference files, writes the report
and keeps the history in the metadata store.

>>> report = validate("data/contacts_2025-05-25.csv", out_dir="out", metadata="dq.sqlite")
>>> report.rows_in == report.rows_valid + report.rows_invalid
True
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pathlib
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pyarrow as pa

from . import _core, layout
from ._dates import ds_string
from .exceptions import ContractError, InvalidArgumentError
from .metadata import CheckRecord, MetadataStore

__all__ = [
    "CheckResult",
    "Contract",
    "ValidationReport",
    "day_files",
    "load_contract",
    "validate",
    "validate_table",
]

_EXTENSIONS = ("parquet", "csv", "json", "jsonl", "ndjson")

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Contract:
    """A data contract: the dataset it describes and its declaration (see the README for
    the fields; the shipped ones are derived from the marketing domain)."""

    dataset: str
    spec: Mapping[str, Any]

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.spec["columns"]]

    def column(self, name: str) -> dict[str, Any]:
        for c in self.spec["columns"]:
            if c["name"] == name:
                return dict(c)
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(self.spec, sort_keys=True)

    def foreign_datasets(self) -> list[str]:
        return sorted({c["foreign_key"]["dataset"] for c in self.spec["columns"] if c.get("foreign_key")})


# A real contract is a few kilobytes; these bound what a hostile one can cost.
MAX_CONTRACT_BYTES = 1024 * 1024
# YAML aliases share one node however often they are used, but the JSON handed to the core
# spells every use out: a 600-byte "billion laughs" would expand to gigabytes.
MAX_YAML_NODES = 100_000


def _bounded_yaml_loader(yaml: Any, origin: str, error: type[ContractError] = ContractError) -> Any:
    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses documents whose aliases expand past MAX_YAML_NODES
        nodes or refer to themselves."""

        def compose_document(self) -> Any:
            node = super().compose_document()
            sizes: dict[int, int] = {}
            open_nodes: set[int] = set()

            def expanded(n: Any) -> int:
                key = id(n)
                if key in sizes:
                    return sizes[key]
                if key in open_nodes:
                    raise error(f"{origin}: invalid YAML: an alias refers to itself")
                open_nodes.add(key)
                total = 1
                if isinstance(n, yaml.SequenceNode):
                    total += sum(expanded(c) for c in n.value)
                elif isinstance(n, yaml.MappingNode):
                    total += sum(expanded(k) + expanded(v) for k, v in n.value)
                open_nodes.discard(key)
                if total > MAX_YAML_NODES:
                    raise error(
                        f"{origin}: invalid YAML: aliases expand it past {MAX_YAML_NODES:,} nodes"
                    )
                sizes[key] = total
                return total

            if node is not None:
                expanded(node)
            return node

    return BoundedLoader


def _parse_text(text: str, origin: str, error: type[ContractError] = ContractError) -> Any:
    """A JSON or YAML document; ``error`` (a ContractError) names ``origin`` when it is not one."""
    if len(text) > MAX_CONTRACT_BYTES:
        raise error(f"{origin}: {len(text):,} characters, more than the limit of {MAX_CONTRACT_BYTES:,}")
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"{origin}: invalid JSON: {exc}") from None
        except RecursionError:
            raise error(f"{origin}: invalid JSON: nested too deeply") from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in the dev lock
        raise error(f"{origin}: YAML needs PyYAML (pip install pyyaml)") from None
    try:
        return yaml.load(text, Loader=_bounded_yaml_loader(yaml, origin, error))  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise error(f"{origin}: invalid YAML: {exc}") from None
    except RecursionError:
        raise error(f"{origin}: invalid YAML: nested too deeply") from None


def load_contract(source: Contract | Mapping[str, Any] | PathLike | None = None, *, dataset: str | None = None) -> Contract:
    """A contract from a file (``.json``, ``.yaml``/``.yml``), a mapping, JSON/YAML text,
    or, with ``source=None``, the shipped default for ``dataset`` (derived from the
    marketing domain, see ``marketing_core.domains``). It is checked by the
    Rust core (unknown fields, bad types, patterns and rules raise ``ContractError``) and
    returned with every default filled in."""
    if isinstance(source, Contract):
        return source
    if source is None:
        if dataset is None:
            raise InvalidArgumentError("load_contract: give a contract source or a dataset name")
        spec = json.loads(_core.default_contract(dataset))
        origin = f"default contract for {dataset}"
    elif isinstance(source, Mapping):
        spec, origin = dict(source), "contract"
    else:
        text = os.fspath(source)
        if isinstance(source, os.PathLike) or (("\n" not in text) and os.path.exists(text)):
            try:
                text = pathlib.Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise ContractError(f"cannot read contract {os.fspath(source)}: {exc}") from None
            origin = os.fspath(source)
        else:
            origin = "contract text"
        spec = _parse_text(text, origin)
    if not isinstance(spec, Mapping):
        raise ContractError(f"{origin}: a contract must be a mapping, got {type(spec).__name__}")
    if dataset is not None and "dataset" not in spec:
        spec = {**spec, "dataset": dataset}
    normalised = json.loads(_core.check_contract(json.dumps(spec)))
    return Contract(dataset=normalised["dataset"], spec=normalised)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome (see ``ValidationReport.checks``)."""

    check: str
    column: str | None
    rule: str
    label: str
    severity: str
    tolerance: float
    status: str
    rows_failed: int
    failed_fraction: float
    file_level: bool
    samples: tuple[str | None, ...]
    signature: str
    message: str | None = None
    is_new: bool = False

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "warn", "tolerated", "error")


@dataclass
class ValidationReport:
    """What ``validate`` found: rows in / valid / invalid, every check, the outputs, and
    which failure signatures are new (``has_failure_delta``: what alerting keys on)."""

    dataset: str
    ds: str | None
    source: str
    format: str | None
    contract_version: int
    rows_in: int
    rows_valid: int
    rows_invalid: int
    status: str
    checks: list[CheckResult]
    valid_path: str | None = None
    quarantine_path: str | None = None
    #: What the run chose not to do, e.g. no quarantine file for a day without invalid rows.
    notes: list[str] = field(default_factory=list)
    report_path: str | None = None
    seconds: float = 0.0
    run_id: str = ""
    new_signatures: frozenset[str] = frozenset()
    valid_table: pa.Table | None = field(default=None, repr=False, compare=False)
    quarantine_table: pa.Table | None = field(default=None, repr=False, compare=False)

    @property
    def has_failure_delta(self) -> bool:
        return bool(self.new_signatures)

    @property
    def passed(self) -> bool:
        """No check of severity ``error`` failed (above its tolerance) and every check
        could run (status ``error``: e.g. unreadable reference data)."""
        return self.status in ("passed", "warn")

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.failed]

    def check(self, label: str) -> CheckResult:
        """The check named like in ``_failed_checks``, e.g. ``pattern:email``."""
        for c in self.checks:
            if c.label == label:
                return c
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("valid_table", "quarantine_table")}
        d["new_signatures"] = sorted(self.new_signatures)
        d["has_failure_delta"] = self.has_failure_delta
        d["checks"] = [{**asdict(c), "samples": list(c.samples)} for c in self.checks]
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @property
    def new_failures(self) -> list[dict[str, Any]]:
        """The failed checks whose signature this run saw for the first time."""
        return [
            {"dataset": self.dataset, "check": c.label, "column": c.column, "severity": c.severity,
             "rows_failed": c.rows_failed, "samples": list(c.samples), "signature": c.signature}
            for c in self.checks if c.failed and c.signature in self.new_signatures
        ]

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary (for XCom and task metrics): counts, outputs, failed
        checks and the new failure signatures."""
        return {
            "dataset": self.dataset,
            "ds": self.ds,
            "path": self.source,
            "status": self.status,
            "rows_in": self.rows_in,
            "rows_out": self.rows_valid,
            "rows_valid": self.rows_valid,
            "rows_invalid": self.rows_invalid,
            "valid_path": self.valid_path,
            "quarantine_path": self.quarantine_path,
            "notes": list(self.notes),
            "report_path": self.report_path,
            "run_id": self.run_id,
            "failed_checks": {c.label: c.rows_failed for c in self.failed_checks},
            "new_failures": self.new_failures,
        }

    @classmethod
    def _from_core(cls, text: str) -> ValidationReport:
        raw = json.loads(text)
        checks = [CheckResult(**{**c, "samples": tuple(c["samples"])}) for c in raw.pop("checks")]
        return cls(**raw, checks=checks)


def _infer(path: pathlib.Path) -> tuple[str | None, str | None]:
    """Dataset and day of a data file named ``<dataset>_<ds>.<ext>`` (one known extension:
    ``contacts_<ds>.quarantine.csv`` is not a day's data file)."""
    parsed = layout.parse_file_name(path.name)
    if parsed is None or parsed[0] not in _core.dataset_names() or parsed[2].lower() not in _EXTENSIONS:
        return None, None
    return parsed[0], parsed[1]


def _find_day_file(directory: pathlib.Path, dataset: str, ds: str | None) -> pathlib.Path | None:
    if ds is None:
        return None
    for ext in _EXTENSIONS:
        p = directory / layout.data_file_name(dataset, ds, ext)
        if p.is_file():
            return p
    return None


def _references(
    contract: Contract, references: Mapping[str, Any] | PathLike | None, near: pathlib.Path | None, ds: str | None
) -> dict[str, Any]:
    """Reference data per dataset: given explicitly, or that day's file in a directory
    (by default the input file's own directory)."""
    if isinstance(references, Mapping):
        return {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in references.items()}
    directory = pathlib.Path(references) if references is not None else near
    found: dict[str, Any] = {}
    if directory is not None:
        for d in contract.foreign_datasets():
            p = _find_day_file(directory, d, ds)
            if p is not None:
                found[d] = str(p)
    return found


def _previous_rows(store: MetadataStore | None, contract: Contract, ds: str | None) -> int | None:
    if store is None or ds is None or not (contract.spec.get("row_count") or {}).get("max_change"):
        return None
    prev = (_dt.date.fromisoformat(ds) - _dt.timedelta(days=1)).isoformat()
    rows = [c for c in store.checks(dataset=contract.dataset, ds=prev) if c["check_name"] == "row_count"]
    return int(rows[-1]["rows_in"]) if rows else None


def _store(metadata: MetadataStore | PathLike | bool | None) -> MetadataStore | None:
    if metadata is None or metadata is False:
        return None
    if isinstance(metadata, MetadataStore):
        return metadata
    if metadata is True:
        return MetadataStore()
    return MetadataStore(metadata)


def _record(store: MetadataStore | None, report: ValidationReport) -> ValidationReport:
    report.run_id = uuid.uuid4().hex
    if store is None:
        return report
    records = [
        CheckRecord(
            dataset=report.dataset,
            check_name=c.check,
            column_name=c.column,
            severity=c.severity,
            status=c.status,
            rows_in=report.rows_in,
            # A failed file-level check (e.g. an empty file) counts as one failure, so its
            # signature is tracked like any other.
            # So does a check that could not run (status error), so that it alerts.
            rows_failed=max(c.rows_failed, 1) if ((c.file_level and c.failed) or c.status == "error") else c.rows_failed,
            signature=c.signature,
            rule=c.rule,
            sample_values=c.samples,
            ds=report.ds,
            file=report.source,
        )
        for c in report.checks
        if c.status != "skipped"
    ]
    new = store.record_checks(report.run_id, records)
    report.new_signatures = frozenset(new)
    report.checks = [replace(c, is_new=c.signature in new) for c in report.checks]
    return report


def _outputs(
    out_dir: PathLike | None, dataset: str, ds: str | None, file_name: str, fmt: str
) -> tuple[str | None, str | None, str | None]:
    if out_dir is None:
        return None, None, None
    valid, quarantine, report = layout.output_paths(out_dir, dataset, ds, file_name, fmt)
    return str(valid), str(quarantine), str(report)


def _write_report(report: ValidationReport, path: str | None) -> None:
    if path is None:
        return
    p = pathlib.Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    tmp.write_text(report.to_json(), encoding="utf-8")
    tmp.replace(p)
    report.report_path = str(p)


def _finish(text: str, valid: Any, quarantine: Any, store: MetadataStore | None, report_out: PathLike | None) -> ValidationReport:
    """The report of a core validation run: tables attached, checks recorded, JSON written."""
    report = ValidationReport._from_core(text)
    report.valid_table, report.quarantine_table = valid, quarantine
    _record(store, report)
    _write_report(report, os.fspath(report_out) if report_out is not None else None)
    return report


def validate(
    path: PathLike,
    dataset: str | None = None,
    *,
    ds: str | _dt.date | None = None,
    contract: Contract | Mapping[str, Any] | PathLike | None = None,
    valid_out: PathLike | None = None,
    quarantine_out: PathLike | None = None,
    report_out: PathLike | None = None,
    out_dir: PathLike | None = None,
    output_format: str | None = None,
    references: Mapping[str, Any] | PathLike | None = None,
    metadata: MetadataStore | PathLike | bool | None = None,
    previous_rows: int | None = None,
    return_tables: bool = False,
) -> ValidationReport:
    """Validate one CSV / JSON Lines / Parquet file against its contract.

    ``dataset`` and ``ds`` default to what the file name says (``contacts_2025-05-25.csv``).
    ``contract`` defaults to the shipped contract of the dataset. Valid rows go to
    ``valid_out`` and failing rows (with ``_failed_checks``, ``_source_row``,
    ``_source_line``, and ``_raw``/``_raw_base64``/``_error`` for unparseable records) to
    ``quarantine_out``. Each file's extension decides its format (``output_format``, if
    given, must agree); with ``out_dir`` the format is ``output_format`` or the input's.
    No output may be the input or the other output (``InvalidArgumentError``). An output
    without rows is not written when no reader could open it: an empty quarantine, and an
    empty JSON Lines valid file (``report.notes`` says so; the path is None). ``out_dir`` fills all
    three outputs with the bucket layout (``valid-data/<dataset>/ds=<ds>/<file>``,
    ``quarantine-data/...``, ``dq-reports/<dataset>/ds=<ds>/report.json``). Foreign keys are
    checked against ``references`` (``{"contacts": path_or_table}`` or a directory), by
    default the same day's files beside the input. With ``metadata`` (a path, a
    ``MetadataStore`` or True for the default store) every check is recorded and the report
    says which failure signatures are new.

    Bad rows never raise. A file that cannot be read at all raises ``ValidationError``.
    """
    p = pathlib.Path(path)
    inferred_dataset, inferred_ds = _infer(p)
    ds_text = ds_string(ds) if ds is not None else inferred_ds
    if contract is None:
        name = dataset or inferred_dataset
        if name is None:
            raise InvalidArgumentError(
                f"cannot tell the dataset of {p.name}; pass dataset= or contract= (datasets: {', '.join(_core.dataset_names())})"
            )
        the_contract = load_contract(dataset=name)
    else:
        the_contract = load_contract(contract, dataset=dataset)
    fmt = output_format or p.suffix.lstrip(".").lower().replace("jsonl", "json").replace("ndjson", "json")
    d_valid, d_quarantine, d_report = _outputs(out_dir, the_contract.dataset, ds_text, p.name, fmt)
    store = _store(metadata)
    if previous_rows is None:
        previous_rows = _previous_rows(store, the_contract, ds_text)
    text, valid, quarantine = _core.validate_file(
        os.fspath(p),
        the_contract.to_json(),
        ds=ds_text,
        valid_out=os.fspath(valid_out) if valid_out is not None else d_valid,
        quarantine_out=os.fspath(quarantine_out) if quarantine_out is not None else d_quarantine,
        output_format=output_format,
        references=_references(the_contract, references, p.parent, ds_text),
        previous_rows=previous_rows,
        collect=return_tables,
    )
    return _finish(text, valid, quarantine, store, report_out if report_out is not None else d_report)


def validate_table(
    table: Any,
    dataset: str | None = None,
    *,
    ds: str | _dt.date | None = None,
    contract: Contract | Mapping[str, Any] | PathLike | None = None,
    valid_out: PathLike | None = None,
    quarantine_out: PathLike | None = None,
    report_out: PathLike | None = None,
    output_format: str | None = None,
    references: Mapping[str, Any] | PathLike | None = None,
    metadata: MetadataStore | PathLike | bool | None = None,
    previous_rows: int | None = None,
    source: str = "<table>",
) -> ValidationReport:
    """Validate an in-memory Arrow table (pyarrow, polars, anything with
    ``__arrow_c_stream__``). Same checks as ``validate``; the valid and quarantined rows
    come back as ``report.valid_table`` and ``report.quarantine_table`` (pyarrow)."""
    if contract is None and dataset is None:
        raise InvalidArgumentError("validate_table: pass dataset= or contract=")
    the_contract = load_contract(contract, dataset=dataset) if contract is not None else load_contract(dataset=dataset)
    ds_text = ds_string(ds) if ds is not None else None
    store = _store(metadata)
    if previous_rows is None:
        previous_rows = _previous_rows(store, the_contract, ds_text)
    text, valid, quarantine = _core.validate_table(
        table,
        the_contract.to_json(),
        ds=ds_text,
        valid_out=os.fspath(valid_out) if valid_out is not None else None,
        quarantine_out=os.fspath(quarantine_out) if quarantine_out is not None else None,
        output_format=output_format,
        references=_references(the_contract, references, None, ds_text),
        previous_rows=previous_rows,
        source=source,
    )
    return _finish(text, valid, quarantine, store, report_out)


def day_files(directory: PathLike, ds: str | None = None) -> list[pathlib.Path]:
    """The dataset files of a directory (``<dataset>_<ds>.<ext>``), in dependency order."""
    order = {d: i for i, d in enumerate(_core.dataset_names())}
    found = []
    for p in pathlib.Path(directory).iterdir():
        d, day = _infer(p)
        if d is not None and p.is_file() and (ds is None or day == ds):
            found.append((order[d], day, p))
    return [p for _, _, p in sorted(found)]

