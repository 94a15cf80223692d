"""Domains: a folder that describes a set of datasets once.

A domain folder holds ``domain.yaml`` (or ``.yml`` / ``.json``: name, description,
``source: generate|landing``, ``partitioning: daily|hourly``, the datasets in dependency
order) and ``datasets/<name>.yaml`` per dataset (file stem and format, key, rows, columns
with their checks and generators, dataset checks, defect kinds). ``domain.schema.json``
and ``dataset.schema.json`` beside this module are the JSON Schemas editors can use.

The files are read here (YAML with the bounded SafeLoader of ``validation``) and judged
by the Rust core, which raises ``DomainError`` naming the file and the field.

>>> load_domain("marketing").dataset_names[:3]
['campaigns', 'forms', 'pages']
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from .. import _core
from .._core import Domain, DomainDataset
from ..exceptions import DomainError
from ..validation import Contract, _parse_text

__all__ = [
    "DATASET_SCHEMA_PATH",
    "SCHEMA_PATH",
    "SHIPPED_DIR",
    "Domain",
    "DomainDataset",
    "contract",
    "list_domains",
    "load_domain",
    "read_documents",
]

#: The folder of the shipped domains (one sub-folder each) and their JSON Schemas.
SHIPPED_DIR = pathlib.Path(__file__).resolve().parent
SCHEMA_PATH = SHIPPED_DIR / "domain.schema.json"
DATASET_SCHEMA_PATH = SHIPPED_DIR / "dataset.schema.json"

_SUFFIXES = (".yaml", ".yml", ".json")


def list_domains() -> list[str]:
    """The names of the shipped domains."""
    return list(_core.shipped_domain_names())


def _parse_file(path: pathlib.Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DomainError(f"{path}: cannot read: {exc}") from None
    return _parse_text(text, str(path), error=DomainError)


def _one_file(directory: pathlib.Path, stem: str) -> pathlib.Path | None:
    found = [directory / f"{stem}{s}" for s in _SUFFIXES if (directory / f"{stem}{s}").is_file()]
    if len(found) > 1:
        raise DomainError(f"{directory}: {' and '.join(p.name for p in found)} both describe {stem!r}; keep one")
    return found[0] if found else None


def read_documents(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The documents of a domain folder as the core takes them: ``{"root", "domain_file",
    "domain", "datasets": {name: {"file", "spec"}}}``."""
    folder = pathlib.Path(root)
    domain_file = _one_file(folder, "domain")
    if domain_file is None:
        raise DomainError(f"{folder}: not a domain folder (no domain.yaml, domain.yml or domain.json)")
    datasets: dict[str, Any] = {}
    dataset_dir = folder / "datasets"
    if dataset_dir.is_dir():
        stems = sorted({p.stem for p in dataset_dir.iterdir() if p.suffix in _SUFFIXES and p.is_file()})
        for stem in stems:
            path = _one_file(dataset_dir, stem)
            assert path is not None
            datasets[stem] = {"file": f"datasets/{path.name}", "spec": _parse_file(path)}
    return {
        "root": str(folder),
        "domain_file": domain_file.name,
        "domain": _parse_file(domain_file),
        "datasets": datasets,
    }


def load_domain(source: str | os.PathLike[str]) -> Domain:
    """A shipped domain by name (``"marketing"``), or a domain folder anywhere (a path:
    ``"./marketing"`` for a folder that shares a shipped domain's name). Checked by the
    core; a bad file raises ``DomainError`` naming the file and the field."""
    if isinstance(source, str) and source in list_domains():
        return _core.shipped_domain(source)
    folder = pathlib.Path(source)
    if not folder.is_dir():
        raise DomainError(
            f"unknown domain {os.fspath(source)!r}: not a folder with a domain.yaml or domain.json, "
            f"nor a shipped domain ({', '.join(list_domains())})"
        )
    # default=str: YAML turns unquoted dates into date objects; the core then names the field.
    return _core.load_domain(json.dumps(read_documents(folder), default=str))


def contract(dataset: DomainDataset) -> Contract:
    """A domain dataset's contract, as ``load_contract`` returns it."""
    spec = json.loads(dataset.contract_json())
    return Contract(dataset=spec["dataset"], spec=spec)
