"""The exception hierarchy. Rust errors are mapped onto these in one place
(``src/python/errors.rs``); every message names the file, row/line and column it can."""

from __future__ import annotations

__all__ = [
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


class MarketingCoreError(Exception):
    """Base class of every error raised by marketing_core."""


class InvalidArgumentError(MarketingCoreError, ValueError):
    """A caller passed a bad value: unknown dataset or format, bad ``ds``, bad scale..."""


class ResourceLimitError(InvalidArgumentError):
    """A run would produce more than the limit (free disk space of the output directory,
    half the available memory for ``generate_table``, or ``max_bytes`` /
    ``$MARKETING_CORE_MAX_OUTPUT_BYTES``). Raised before anything is allocated or written;
    the message has the estimate and the limit."""


class MetadataError(MarketingCoreError):
    """The metadata store cannot be used: not a SQLite database, damaged, locked past the
    busy timeout, read-only, a directory, or tables of another shape. The message names
    the path and the cause. Checked when the store is opened, before any output is
    written."""


class FileError(MarketingCoreError, OSError):
    """Reading or writing a local file failed; the message names the file."""


class CancelledError(MarketingCoreError):
    """A long call was cancelled (its progress callback raised, or Ctrl-C)."""


class InternalError(MarketingCoreError):
    """A bug in marketing_core itself (a Rust panic caught at the boundary)."""


class ContractError(MarketingCoreError, ValueError):
    """A data contract that cannot be used: unknown field or type, bad pattern or rule."""


class DomainError(ContractError):
    """A domain folder that cannot be used: a file that cannot be read or parsed, an
    unknown type, a reference to a missing dataset or column, a dependency cycle, a
    generator that does not fit its column. The message names the file and the field
    path inside it (``datasets/orders.yaml: columns[3].type: unknown type "strng"; ...``)."""


class ValidationError(MarketingCoreError):
    """A file that cannot be validated at all (e.g. a truncated Parquet file); the message
    names the file and the position. Bad rows never raise: they are quarantined."""
class StorageError(MarketingCoreError):
    """An object-store operation failed (upload); ``report`` holds the UploadReport when
    the error summarises a whole upload. Messages never contain credentials."""

    report = None


class AuthenticationError(StorageError):
    """The object store rejected the credentials (HTTP 401/403)."""


class ConflictError(StorageError):
    """An object exists at the key with different content (policy ``refuse``), or changed
    while it was being replaced."""


class InvalidKeyError(StorageError, ValueError):
    """An object key is unsafe (``..``, absolute, control characters) or a file cannot be
    placed in the bucket layout. Raised before any request is sent."""


class InvalidBucketError(StorageError, ValueError):
    """A bucket name breaks the S3 naming rules. Raised before any request is sent."""
