"""Stubs for the Rust extension ``marketing_core._core``."""

from collections.abc import Callable, Mapping

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
