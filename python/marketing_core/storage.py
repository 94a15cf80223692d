"""Idempotent upload to S3 / MinIO (or a local directory bucket), with the bucket as the
source of truth.

Each object carries the MD5 of its content in its user metadata (``x-amz-meta-md5``). A
file whose key already holds the same MD5 is skipped after one HEAD request; new objects
are written create-only (``If-None-Match: *``), so two uploaders never both write; a
changed file for an existing key is refused (reported as a conflict) unless
``policy="replace"``, which overwrites conditionally on the ETag seen.

The default layout is ``../shared/spec/datasets.md``'s:
``valid-data/<dataset>/ds=<ds>/<file>``, ``quarantine-data/...`` and
``dq-reports/<dataset>/ds=<ds>/report.json`` (``marketing_core.layout``): the kind from the
file's ``valid-data/`` / ``quarantine-data/`` / ``dq-reports/`` folder, else its name;
dataset and ds from names like ``contacts_2025-05-25.csv``; or given explicitly (``kind``,
``dataset``, ``ds``).

The local SQLite ``file_metadata`` table (``metadata=``) is an audit log of attempts;
it is never consulted to decide what to upload.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union

from . import _core
from .exceptions import AuthenticationError, ConflictError, StorageError
from . import settings

__all__ = [
    "StoreConfig",
    "UploadReport",
    "FileUpload",
    "upload",
    "upload_tree",
    "tree_keys",
    "as_store",
    "bucket_location",
    "plan_upload",
    "store_from_env",
    "store_from_airflow_connection",
    "DEFAULT_BUCKET",
    "DEFAULT_STORE_URL",
]

FileUpload = _core.FileUpload

DEFAULT_BUCKET = "marketing-data"
#: The embedded default: a local directory holding one subdirectory per bucket.
DEFAULT_STORE_URL = "file://object-store"

PathLike = Union[str, "os.PathLike[str]"]
ProgressCallback = Callable[[int, int, int, int], None]

_SECRET_FIELDS = ("access_key_id", "secret_access_key", "session_token")


@dataclass(frozen=True, repr=False)
class StoreConfig:
    """Where to upload: ``s3://`` (AWS, MinIO, SeaweedFS...) or ``file://<dir>``.

    Credentials default to the standard AWS environment variables (read by the Rust
    client); pass them explicitly, or build the config with :func:`store_from_env` or
    :func:`store_from_airflow_connection`. They never appear in ``repr`` or errors.
    ``allow_http=None`` allows plain HTTP exactly when ``endpoint_url`` is ``http://``;
    ``sign_payload=None`` signs request bodies (SHA-256) only over plain HTTP, as the AWS
    SDKs do.

    ``conditional_writes``: ``"require"`` (default) proves, once per endpoint and bucket
    in a process, that the S3 server honours ``If-None-Match`` / ``If-Match`` (a probe
    object under ``_marketing_core_tmp/probe/``) and raises ``StorageError`` naming the
    endpoint, before any data object is written, where it does not; ``"assume"`` skips
    the probe (the caller vouches for the server, or accepts that racing uploaders may
    overwrite each other). Ignored for ``file://``.

    ``multipart_publish``: how a multipart upload becomes visible at its key: ``"lock"``
    (default: a lease object, then the conditional completion at the key), ``"copy"``
    (a temporary key and one conditional server-side copy) or ``"complete"`` (the
    conditional completion alone, for servers that evaluate it atomically, such as AWS).
    ``lock_ttl``: seconds a lease may go without a heartbeat before another uploader takes
    it over. ``storage_options``: further object_store S3 options by their object_store
    names (``aws_server_side_encryption``, ``aws_checksum_algorithm``, ...).

    A field left ``None`` takes its default from the Rust core (``StoreConfig::default``
    in ``src/store/config.rs``, the one place defaults are written): 5 retries within 60 s,
    connect timeout 5 s, request timeout 120 s, path-style requests, ``require``,
    ``lock``, a 60 s lease.
    """

    url: str = DEFAULT_STORE_URL
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    allow_http: bool | None = None
    path_style: bool | None = None
    sign_payload: bool | None = None
    max_retries: int | None = None
    retry_timeout: float | None = None
    connect_timeout: float | None = None
    request_timeout: float | None = None
    conditional_writes: str | None = None
    multipart_publish: str | None = None
    lock_ttl: float | None = None
    storage_options: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = []
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is None or (name == "storage_options" and not value):
                continue
            if name in _SECRET_FIELDS:
                value = "***"
            elif name == "storage_options":
                value = {k: "***" for k in value}  # may carry credentials
            parts.append(f"{name}={value!r}")
        return f"StoreConfig({', '.join(parts)})"

    __str__ = __repr__

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3")

    def with_credentials(self, access_key_id: str, secret_access_key: str, session_token: str | None = None) -> StoreConfig:
        return replace(self, access_key_id=access_key_id, secret_access_key=secret_access_key, session_token=session_token)

    def aws_env(self) -> dict[str, str]:
        """The standard AWS environment variables for this config (for tools that read
        them, such as DuckDB's httpfs secret in the dbt load macro). Empty for file://."""
        if not self.is_s3:
            return {}
        pairs = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        return {k: v for k, v in pairs.items() if v}

    def options(self) -> list[tuple[str, str]]:
        """The set fields as ``(key, value)`` store options (object_store's key names plus
        marketing_core's own; see ``StoreConfig::from_options`` in ``src/store/config.rs``,
        where every default lives), then ``storage_options`` as given."""
        pairs: list[tuple[str, str]] = []
        for name, key in _OPTION_KEYS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if name == "path_style":
                value = not value
            pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
        pairs.extend((str(k), str(v)) for k, v in self.storage_options.items())
        return pairs


#: StoreConfig field -> store option key (``aws_virtual_hosted_style_request`` is the
#: negation of ``path_style``).
_OPTION_KEYS = {
    "endpoint_url": "aws_endpoint",
    "region": "aws_region",
    "access_key_id": "aws_access_key_id",
    "secret_access_key": "aws_secret_access_key",
    "session_token": "aws_session_token",
    "allow_http": "allow_http",
    "path_style": "aws_virtual_hosted_style_request",
    "sign_payload": "sign_payload",
    "max_retries": "max_retries",
    "retry_timeout": "retry_timeout",
    "connect_timeout": "connect_timeout",
    "request_timeout": "timeout",
    "conditional_writes": "conditional_writes",
    "multipart_publish": "multipart_publish",
    "lock_ttl": "lock_ttl",
}


def store_from_env(url: str | None = None, **overrides: Any) -> StoreConfig:
    """A StoreConfig from the environment.

    ``MARKETING_CORE_STORE_URL`` (else ``s3://`` when ``AWS_ENDPOINT_URL`` is set, else the
    local default), ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_SESSION_TOKEN``. Keyword arguments override.
    """
    env = os.environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if url is None:
        url = settings.STORE_URL.get() or ("s3://" if endpoint else DEFAULT_STORE_URL)
    cfg = StoreConfig(
        url=url,
        endpoint_url=endpoint,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        session_token=env.get("AWS_SESSION_TOKEN"),
    )
    return replace(cfg, **overrides) if overrides else cfg


def store_config_from_connection(conn: Any) -> StoreConfig:
    """A StoreConfig from an Airflow ``aws`` Connection object (login/password = key id /
    secret; extras ``endpoint_url``, ``region_name``, ``aws_session_token``, or the
    legacy ``aws_access_key_id`` / ``aws_secret_access_key``)."""
    extra = dict(getattr(conn, "extra_dejson", None) or {})
    service = (extra.get("service_config") or {}).get("s3") or {}
    endpoint = service.get("endpoint_url") or extra.get("endpoint_url") or extra.get("host") or None
    return StoreConfig(
        url="s3://",
        endpoint_url=endpoint,
        region=extra.get("region_name") or extra.get("region"),
        access_key_id=getattr(conn, "login", None) or extra.get("aws_access_key_id"),
        secret_access_key=getattr(conn, "password", None) or extra.get("aws_secret_access_key"),
        session_token=extra.get("aws_session_token"),
        path_style=(extra.get("config_kwargs") or {}).get("s3", {}).get("addressing_style", "path") != "virtual",
    )


def store_from_airflow_connection(conn_id: str = "aws_default") -> StoreConfig:
    """A StoreConfig from an Airflow ``aws`` connection (for MinIO put ``endpoint_url`` in
    its extras). Airflow is imported here, only when called."""
    try:
        from airflow.sdk import BaseHook  # Airflow 3
    except ImportError:  # pragma: no cover - Airflow 2
        from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    return store_config_from_connection(BaseHook.get_connection(conn_id))


def as_store(store: StoreConfig | str | None) -> StoreConfig:
    """A :class:`StoreConfig` from a config, a URL (``s3://`` takes endpoint and
    credentials from the environment; ``file://dir``) or None (:func:`store_from_env`)."""
    if store is None or store == "":
        return store_from_env()
    if isinstance(store, StoreConfig):
        return store
    return store_from_env(store) if store.startswith("s3") else StoreConfig(url=store)


def bucket_location(store: StoreConfig | str | None, bucket: str) -> str:
    """Where a reader finds the bucket: ``s3://<bucket>`` or, for a ``file://`` store,
    the bucket's local directory."""
    cfg = as_store(store)
    if cfg.is_s3:
        return f"s3://{bucket}"
    root = cfg.url[len("file://"):] if cfg.url.startswith("file://") else cfg.url
    return os.path.join(os.path.abspath(root), bucket)


@dataclass(frozen=True)
class UploadReport:
    """What one ``upload`` call did: one :class:`FileUpload` per file, plus totals."""

    bucket: str
    store: str
    files: tuple[Any, ...]
    seconds: float
    _by_status: dict[str, list[Any]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for f in self.files:
            self._by_status.setdefault(f.status, []).append(f)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Any:
        return self.files[index]

    def __repr__(self) -> str:
        return (
            f"UploadReport(bucket={self.bucket!r}, store={self.store!r}, files={len(self.files)}, "
            f"uploaded={len(self.uploaded)}, skipped={len(self.skipped)}, conflicts={len(self.conflicts)}, "
            f"failed={len(self.failed)}, bytes_sent={self.bytes_sent}, seconds={self.seconds:.3f})"
        )

    @property
    def uploaded(self) -> list[Any]:
        return self._by_status.get("uploaded", [])

    @property
    def skipped(self) -> list[Any]:
        return self._by_status.get("skipped", [])

    @property
    def conflicts(self) -> list[Any]:
        return self._by_status.get("conflict", [])

    @property
    def failed(self) -> list[Any]:
        return self._by_status.get("failed", [])

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def bytes_sent(self) -> int:
        return sum(f.bytes_sent for f in self.files)

    @property
    def write_requests(self) -> int:
        return sum(f.write_requests for f in self.files)

    @property
    def ok(self) -> bool:
        """Every file is in the bucket with the local content (uploaded or skipped)."""
        return not self.failed and not self.conflicts

    def counts(self) -> dict[str, int]:
        return {s: len(self._by_status.get(s, [])) for s in ("uploaded", "skipped", "conflict", "failed")}

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary (for XCom): counts, bytes and the URIs."""
        return {
            "bucket": self.bucket,
            "store": self.store,
            "counts": self.counts(),
            "bytes": self.bytes,
            "bytes_sent": self.bytes_sent,
            "seconds": round(self.seconds, 3),
            "uris": [f.uri for f in self.files if f.status in ("uploaded", "skipped")],
        }

    def raise_for_status(self, *, conflicts: bool = True) -> None:
        """Raises for failed files (``AuthenticationError`` if authentication failed,
        else ``StorageError``) and, with ``conflicts=True``, ``ConflictError``."""
        if self.failed:
            auth = [f for f in self.failed if f.error_kind == "auth"]
            first = (auth or self.failed)[0]
            cls = AuthenticationError if auth else StorageError
            more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
            exc = cls(f"upload of {first.source} to {first.uri} failed: {first.error}{more}")
            exc.report = self
            raise exc
        if conflicts and self.conflicts:
            first = self.conflicts[0]
            more = f" (and {len(self.conflicts) - 1} more)" if len(self.conflicts) > 1 else ""
            exc = ConflictError(f"{first.error}{more}")
            exc.report = self
            raise exc


def _as_list(sources: PathLike | Iterable[PathLike]) -> list[str]:
    if isinstance(sources, (str, os.PathLike)):
        return [os.fspath(sources)]
    return [os.fspath(s) for s in sources]


def plan_upload(
    sources: PathLike | Iterable[PathLike],
    *,
    kind: str | None = None,
    dataset: str | None = None,
    ds: str | None = None,
    prefix: str | None = None,
) -> list[tuple[str, str, str | None, str | None]]:
    """The ``(path, key, dataset, ds)`` each file would be uploaded to, without any
    request. Raises ``InvalidKeyError`` for a file that cannot be placed safely."""
    return _core.plan_upload(_as_list(sources), kind=kind, dataset=dataset, ds=ds, prefix=prefix)


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="microseconds")


def _record(metadata: Any, report: UploadReport) -> None:
    from .metadata import MetadataStore

    store = metadata if isinstance(metadata, MetadataStore) else MetadataStore(metadata)
    store.record_file_attempts(
        {
            "file_name": os.path.basename(f.source),
            "uri": f.uri,
            "status": f.status,
            "dataset": f.dataset,
            "ds": f.ds,
            "md5": f.md5,
            "size": f.bytes,
            "error": f.error,
            "started_at": _iso(f.started_at),
            "finished_at": _iso(f.finished_at),
        }
        for f in report.files
    )


def _describe(store: StoreConfig, bucket: str) -> str:
    if store.is_s3:
        return f"s3://{bucket}" + (f" at {store.endpoint_url}" if store.endpoint_url else "")
    return f"{store.url.rstrip('/')}/{bucket}"


def upload(
    sources: PathLike | Iterable[PathLike],
    *,
    bucket: str = DEFAULT_BUCKET,
    kind: str | None = None,
    dataset: str | None = None,
    ds: str | None = None,
    prefix: str | None = None,
    keys: Mapping[PathLike, str] | None = None,
    store: StoreConfig | str | None = None,
    policy: str | None = None,
    concurrency: int | None = None,
    multipart_threshold: int | None = None,
    part_size: int | None = None,
    part_concurrency: int | None = None,
    metadata: Any = None,
    progress: ProgressCallback | None = None,
    raise_on_error: bool = True,
) -> UploadReport:
    """Uploads files (or every non-hidden file under directories) idempotently.

    Keys follow the default layout (``kind`` = ``valid-data`` / ``quarantine-data`` /
    ``dq-reports``, when omitted the file's folder of that name, else inferred from the
    file name; ``dataset`` and ``ds`` from ``<dataset>_<ds>.<ext>`` names when omitted), or
    ``<prefix>/<file name>``, or are given per file in ``keys`` (dataset and ds then come
    from a key in the layout). Every key and the bucket are validated before any request,
    and two files for one key are an ``InvalidKeyError``.

    ``store``: a :class:`StoreConfig`, a URL (``s3://``, ``file://dir``) or None for
    :func:`store_from_env`. ``policy``: ``refuse`` (default) or ``replace`` for a key
    that holds other content. ``metadata``: a ``MetadataStore`` or SQLite path to log
    every attempt into ``file_metadata``. ``progress(bytes_done, bytes_total,
    files_done, files_total)`` is called as the upload advances.

    Returns an :class:`UploadReport`; with ``raise_on_error`` (default) a failed file
    raises ``StorageError`` (``AuthenticationError`` for rejected credentials) after the
    attempts are logged, with the report as ``exc.report``. Conflicts are reported, not
    raised (``report.raise_for_status()`` raises them).
    """
    store = as_store(store)
    _core.validate_bucket(bucket)
    if keys is not None:
        items = []
        for path, key in keys.items():
            _core.validate_key(key)
            items.append((os.fspath(path), key, dataset, ds))
    else:
        items = plan_upload(sources, kind=kind, dataset=dataset, ds=ds, prefix=prefix)

    callback = None
    if progress is not None:
        totals = [0, sum(os.path.getsize(p) for p, *_ in items), 0, len(items)]
        lock = threading.Lock()

        def callback(nbytes: int, nfiles: int) -> None:
            with lock:
                totals[0] += nbytes
                totals[2] += nfiles
                snapshot = tuple(totals)
            progress(*snapshot)

    clock = time.perf_counter()
    # Unset options take the Rust defaults (``UploadOptions::default``).
    upload_options = [
        (k, str(v))
        for k, v in (("concurrency", concurrency), ("multipart_threshold", multipart_threshold),
                     ("part_size", part_size), ("part_concurrency", part_concurrency), ("policy", policy))
        if v is not None
    ]
    files = _core.upload_files(
        items,
        bucket=bucket,
        store_url=store.url,
        store_options=store.options(),
        upload_options=upload_options,
        progress=callback,
    )
    report = UploadReport(bucket=bucket, store=_describe(store, bucket), files=tuple(files), seconds=time.perf_counter() - clock)
    if metadata is not None:
        _record(metadata, report)
    if raise_on_error:
        report.raise_for_status(conflicts=False)
    return report


def tree_keys(
    root: PathLike, patterns: Iterable[str] = ("**/*",), *, prefix: str | None = None
) -> dict[str, str]:
    """The files under ``root`` matching any glob pattern (relative to ``root``; hidden
    entries skipped), each with its key: its path relative to ``root``, under ``prefix``."""
    import pathlib

    base = pathlib.Path(root).resolve()
    keys: dict[str, str] = {}
    for pattern in patterns:
        for p in sorted(base.glob(pattern)):
            rel = p.relative_to(base)
            if not p.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            keys[str(p)] = f"{prefix.strip('/')}/{rel.as_posix()}" if prefix else rel.as_posix()
    return keys


def upload_tree(
    root: PathLike, patterns: Iterable[str] = ("**/*",), *, prefix: str | None = None, **kwargs: Any
) -> UploadReport:
    """Uploads the files under ``root`` that match ``patterns`` with keys that mirror
    their paths (see :func:`tree_keys`); ``kwargs`` as for :func:`upload`. A directory
    laid out like the bucket (``valid-data/<dataset>/ds=<ds>/...``) lands as is."""
    keys = tree_keys(root, patterns, prefix=prefix)
    return upload(list(keys), keys=keys, **kwargs)
