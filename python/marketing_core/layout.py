"""The bucket layout and the file-name grammar, as the Rust core spells them
(``src/layout.rs``): the one place Python, the DAGs and the tests ask.

- a data file is ``<dataset>_<ds>.<ext>`` (``contacts_2025-05-25.csv``);
- an object, and a validation output under ``out_dir``, is
  ``<kind>/<dataset>/ds=<ds>/<file>`` with ``kind`` one of :data:`KINDS`; a DQ report is
  always :data:`REPORT_FILE`;
- the quarantine file keeps the data file's name: its folder (``quarantine-data/``) says
  what it is, and uploads take the kind from the folder before the file name.

>>> object_key("valid-data", "contacts", "2025-05-25", "contacts_2025-05-25.csv")
'valid-data/contacts/ds=2025-05-25/contacts_2025-05-25.csv'
>>> parse_key("dq-reports/pages/ds=2025-05-25/report.json")
KeyParts(kind='dq-reports', dataset='pages', ds='2025-05-25', file_name='report.json')
"""

from __future__ import annotations

import os
import pathlib
from typing import NamedTuple

from . import _core

__all__ = [
    "KINDS",
    "VALID_DATA",
    "QUARANTINE_DATA",
    "DQ_REPORTS",
    "REPORT_FILE",
    "KeyParts",
    "OutputPaths",
    "data_file_name",
    "day_pattern",
    "day_prefix",
    "object_key",
    "output_paths",
    "parse_file_name",
    "parse_key",
]

#: The top-level folders of the bucket, in pipeline order.
KINDS: tuple[str, ...] = tuple(_core.layout_kinds())
VALID_DATA, QUARANTINE_DATA, DQ_REPORTS = KINDS
#: The object name of every DQ report.
REPORT_FILE: str = _core.layout_report_file()


class KeyParts(NamedTuple):
    kind: str
    dataset: str
    ds: str
    file_name: str


class OutputPaths(NamedTuple):
    valid: pathlib.Path
    quarantine: pathlib.Path
    report: pathlib.Path


def data_file_name(dataset: str, ds: str, ext: str) -> str:
    """``<dataset>_<ds>.<ext>``."""
    return _core.data_file_name(dataset, ds, ext)


def parse_file_name(file_name: str) -> tuple[str, str, str] | None:
    """``(dataset, ds, rest)`` of ``<dataset>_<ds>.<rest>`` (``rest``: everything after the
    first dot, e.g. ``csv`` or ``quarantine.parquet``), or None."""
    return _core.parse_file_name(file_name)


def day_prefix(kind: str, dataset: str, ds: str) -> str:
    """``<kind>/<dataset>/ds=<ds>`` (no trailing slash). Parts are not validated, so a
    template such as ``{{ ds }}`` or a glob ``*`` may stand for one."""
    return _core.day_prefix(kind, dataset, ds)


def day_pattern(kind: str, ds: str, dataset: str = "*") -> str:
    """A glob of one day's objects (or files under a validated directory) of ``kind``:
    ``<kind>/<dataset>/ds=<ds>/*``, every dataset by default."""
    return f"{day_prefix(kind, dataset, ds)}/*"


def object_key(kind: str, dataset: str, ds: str, file_name: str) -> str:
    """``<kind>/<dataset>/ds=<ds>/<file>`` (a report is ``report.json``); raises
    ``InvalidKeyError`` for an unsafe key or a ds that is not a date."""
    return _core.object_key(kind, dataset, ds, file_name)


def parse_key(key: str) -> KeyParts | None:
    """The parts of a key in the layout (a leading prefix is allowed), or None."""
    parts = _core.parse_key(key)
    return KeyParts(*parts) if parts is not None else None


def output_paths(
    out_dir: str | os.PathLike[str], dataset: str, ds: str | None, input_file_name: str, ext: str
) -> OutputPaths:
    """Where one validation run writes under ``out_dir``: valid rows, quarantine (both
    named after the input with extension ``ext``) and the report (``ds=unknown`` without
    a day)."""
    valid, quarantine, report = _core.output_paths(os.fspath(out_dir), dataset, ds, input_file_name, ext)
    return OutputPaths(pathlib.Path(valid), pathlib.Path(quarantine), pathlib.Path(report))
