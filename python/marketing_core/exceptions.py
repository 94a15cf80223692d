"""The exception hierarchy. Rust errors are mapped onto these in one place
(``src/python/errors.rs``); every message names the file, row/line and column it can."""

from __future__ import annotations

__all__ = [
    "MarketingCoreError",
    "InvalidArgumentError",
    "FileError",
    "CancelledError",
    "InternalError",
    "ContractError",
    "ValidationError",
]


class MarketingCoreError(Exception):
    """Base class of every error raised by marketing_core."""


class InvalidArgumentError(MarketingCoreError, ValueError):
    """A caller passed a bad value: unknown dataset or format, bad ``ds``, bad scale..."""


class FileError(MarketingCoreError, OSError):
    """Reading or writing a local file failed; the message names the file."""


class CancelledError(MarketingCoreError):
    """A long call was cancelled (its progress callback raised, or Ctrl-C)."""


class InternalError(MarketingCoreError):
    """A bug in marketing_core itself (a Rust panic caught at the boundary)."""


class ContractError(MarketingCoreError, ValueError):
    """A data contract that cannot be used: unknown field or type, bad pattern or rule."""


class ValidationError(MarketingCoreError):
    """A file that cannot be validated at all (e.g. a truncated Parquet file); the message
    names the file and the position. Bad rows never raise: they are quarantined."""
