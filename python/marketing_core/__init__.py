"""marketing_core: the Rust core of a marketing-data ELT pipeline.

Synthetic data for the six marketing datasets (deterministic, with fault injection),
data-quality validation and idempotent upload to S3, for Airflow DAGs, notebooks and CI.
"""

from __future__ import annotations

from ._core import __version__
from .exceptions import (
    AuthenticationError,
    CancelledError,
    ContractError,
    ConflictError,
    DomainError,
    FileError,
    InternalError,
    InvalidArgumentError,
    InvalidBucketError,
    InvalidKeyError,
    MarketingCoreError,
    MetadataError,
    ResourceLimitError,
    ValidationError,
    StorageError,
)
from .generation import (
    DATASETS,
    DEFAULT_SEED,
    DEFECT_KINDS,
    DayResult,
    GenerateResult,
    generate,
    generate_day,
    generate_table,
)
from .storage import (
    StoreConfig,
    UploadReport,
    plan_upload,
    store_from_airflow_connection,
    store_from_env,
    upload,
    upload_tree,
)
from .validation import (
    CheckResult,
    Contract,
    ValidationReport,
    load_contract,
    validate,
    validate_table,
)

__all__ = [
    "__version__",
    # generation
    "DATASETS",
    "DEFAULT_SEED",
    "DEFECT_KINDS",
    "DayResult",
    "GenerateResult",
    "generate",
    "generate_day",
    "generate_table",
    # validation
    "CheckResult",
    "Contract",
    "ValidationReport",
    "load_contract",
    "validate",
    "validate_table",
    # upload
    "StoreConfig",
    "UploadReport",
    "plan_upload",
    "store_from_airflow_connection",
    "store_from_env",
    "upload",
    "upload_tree",
    # errors
    "MarketingCoreError",
    "InvalidArgumentError",
    "ResourceLimitError",
    "MetadataError",
    "FileError",
    "CancelledError",
    "InternalError",
    "ContractError",
    "DomainError",
    "ValidationError",
    "StorageError",
    "AuthenticationError",
    "ConflictError",
    "InvalidKeyError",
    "InvalidBucketError",
]
