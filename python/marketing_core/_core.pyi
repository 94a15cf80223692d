"""Stubs for the Rust extension ``marketing_core._core``."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, final

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
    max_bytes: int | None = None,
) -> GenerateResult: ...
def generate_table(
    dataset: str,
    ds: str,
    *,
    scale_factor: float = 1.0,
    seed: int = 42,
    defects: Mapping[str, float] | None = None,
    max_bytes: int | None = None,
) -> pa.Table: ...
def check_output_size(
    datasets: list[tuple[str, str | None]],
    ds: str,
    out_dir: str,
    *,
    scale_factor: float = 1.0,
    seed: int = 42,
    defects: Mapping[str, float] | None = None,
    max_bytes: int | None = None,
) -> None: ...
def dataset_names() -> list[str]: ...
def defect_kinds() -> list[str]: ...
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
# -- upload (src/python/store.rs) ---------------------------------------------------------

@final
class FileUpload:
    @property
    def source(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def uri(self) -> str: ...
    @property
    def dataset(self) -> str | None: ...
    @property
    def ds(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def bytes(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def md5(self) -> str | None: ...
    @property
    def multipart(self) -> bool: ...
    @property
    def replaced(self) -> bool: ...
    @property
    def write_requests(self) -> int: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def started_at(self) -> float: ...
    @property
    def finished_at(self) -> float: ...

def plan_upload(
    sources: Sequence[str],
    *,
    kind: str | None = None,
    dataset: str | None = None,
    ds: str | None = None,
    prefix: str | None = None,
) -> list[tuple[str, str, str | None, str | None]]: ...
def validate_key(key: str) -> None: ...
def validate_bucket(bucket: str) -> None: ...
def upload_files(
    items: Sequence[tuple[str, str, str | None, str | None]],
    *,
    bucket: str,
    store_url: str,
    endpoint: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    allow_http: bool = False,
    path_style: bool = True,
    sign_payload: bool | None = None,
    max_retries: int = 5,
    retry_timeout: float = 60.0,
    connect_timeout: float = 5.0,
    request_timeout: float = 120.0,
    conditional_writes: str = "require",
    concurrency: int = 16,
    multipart_threshold: int = 16777216,
    part_size: int = 8388608,
    part_concurrency: int = 8,
    policy: str = "refuse",
    progress: Callable[[int, int], object] | None = None,
) -> list[FileUpload]: ...

# The bucket layout (src/layout.rs); the public face is marketing_core.layout.
def layout_kinds() -> list[str]: ...
def layout_report_file() -> str: ...
def data_file_name(dataset: str, ds: str, ext: str) -> str: ...
def parse_file_name(file_name: str) -> tuple[str, str, str] | None: ...
def day_prefix(kind: str, dataset: str, ds: str) -> str: ...
def object_key(kind: str, dataset: str, ds: str, file_name: str) -> str: ...
def parse_key(key: str) -> tuple[str, str, str, str] | None: ...
def output_paths(out_dir: str, dataset: str, ds: str | None, input_file_name: str, ext: str) -> list[str]: ...
