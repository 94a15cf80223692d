"""Stubs for the Rust extension ``marketing_core._core``."""

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

__version__: str

class GenerateResult:
    @property
    def dataset(self) -> str: ...
    @property
    def ds(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def rows(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def skipped(self) -> bool: ...
    @property
    def defects_path(self) -> str | None: ...
    @property
    def defect_counts(self) -> dict[str, int]: ...

def generate(
    dataset: str,
    ds: str,
    out_dir: str,
    *,
    scale_factor: float = 1.0,
    seed: int = 42,
    format: str | None = None,
    force: bool = False,
    defects: Mapping[str, float] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> GenerateResult: ...
def generate_table(
    dataset: str,
    ds: str,
    *,
    scale_factor: float = 1.0,
    seed: int = 42,
    defects: Mapping[str, float] | None = None,
) -> pa.Table: ...
def dataset_names() -> list[str]: ...
def dataset_info(dataset: str, ds: str, scale_factor: float) -> dict[str, str]: ...

# validation (the public API is marketing_core.validation)
def validate_file(
    path: str,
    contract: str,
    *,
    ds: str | None = None,
    valid_out: str | None = None,
    quarantine_out: str | None = None,
    output_format: str | None = None,
    references: Mapping[str, Any] | None = None,
    previous_rows: int | None = None,
    collect: bool = False,
) -> tuple[str, pa.Table | None, pa.Table | None]: ...
def validate_table(
    table: Any,
    contract: str,
    *,
    ds: str | None = None,
    valid_out: str | None = None,
    quarantine_out: str | None = None,
    output_format: str | None = None,
    references: Mapping[str, Any] | None = None,
    previous_rows: int | None = None,
    source: str = "<table>",
) -> tuple[str, pa.Table | None, pa.Table | None]: ...
def default_contract(dataset: str) -> str: ...
def check_contract(contract: str) -> str: ...
