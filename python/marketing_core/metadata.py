"""The metadata store: data-quality history and the upload audit log.

SQLite by default (a file path, the embedded default); safe with concurrent writers from
several processes (WAL journal, a busy timeout and ``BEGIN IMMEDIATE`` write transactions).
Opening a store checks it (it opens, has our tables, takes a write) so that a bad path
fails with ``MetadataError`` before a caller writes any output; every later SQLite error
is a ``MetadataError`` too, naming the path and the cause.

Tables
- ``dq_checks``: every check of every validation run.
- ``dq_signature``: one row per failure signature, with first/last seen and occurrences;
  a signature seen for the first time is what alerting keys on.
- ``file_metadata``: an audit log of upload attempts. It is never consulted to decide
  whether to upload (the bucket is the source of truth for that).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .exceptions import MetadataError
from . import settings

__all__ = ["MetadataStore", "CheckRecord", "default_metadata_path"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS dq_checks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NOT NULL,
    dataset       TEXT    NOT NULL,
    ds            TEXT,
    file          TEXT,
    check_name    TEXT    NOT NULL,
    column_name   TEXT,
    severity      TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    rows_in       INTEGER NOT NULL,
    rows_failed   INTEGER NOT NULL,
    signature     TEXT    NOT NULL,
    sample_values TEXT,
    checked_at    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS dq_checks_dataset_ds ON dq_checks (dataset, ds);
CREATE INDEX IF NOT EXISTS dq_checks_signature ON dq_checks (signature);

CREATE TABLE IF NOT EXISTS dq_signature (
    signature   TEXT PRIMARY KEY,
    dataset     TEXT NOT NULL,
    check_name  TEXT NOT NULL,
    column_name TEXT,
    rule        TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    occurrences INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS file_metadata (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    file_name   TEXT NOT NULL,
    dataset     TEXT,
    ds          TEXT,
    md5         TEXT,
    size        INTEGER,
    uri         TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS file_metadata_uri ON file_metadata (uri);
"""


def _expected_columns() -> dict[str, set[str]]:
    """The columns of each table SCHEMA creates (read from SQLite, so SCHEMA stays the one
    source)."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(SCHEMA)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: {r[1] for r in con.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        con.close()


EXPECTED_COLUMNS = _expected_columns()

# SQLite's messages and what they mean for the person holding the path.
_CAUSES = (
    ("file is not a database", "is not a SQLite database"),
    ("malformed", "is damaged or truncated"),
    ("database is locked", "is locked by another connection"),
    ("readonly", "is read-only"),
    ("unable to open", "cannot be opened"),
    ("disk i/o error", "cannot be read or written"),
)


def _store_errors(action: str):
    """Method decorator: SQLite and OS errors become one ``MetadataError``."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with self._errors(action):
                return method(self, *args, **kwargs)

        return wrapper

    return decorate


def default_metadata_path() -> str:
    """``$MARKETING_CORE_METADATA`` or ``./.marketing_core/metadata.sqlite``."""
    return settings.METADATA.get()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class CheckRecord:
    """One check's outcome in one run, as stored in ``dq_checks``."""

    dataset: str
    check_name: str
    column_name: str | None
    severity: str
    status: str
    rows_in: int
    rows_failed: int
    signature: str
    rule: str | None = None
    sample_values: tuple[Any, ...] = ()
    ds: str | None = None
    file: str | None = None


class MetadataStore:
    """A SQLite metadata store at ``path`` (created on first use)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 60.0):
        """Opens (creating when missing) and checks the store; ``MetadataError`` when it
        cannot be used. ``timeout``: seconds to wait for another writer's lock."""
        self.path = os.fspath(path) if path is not None else default_metadata_path()
        self.timeout = timeout
        self._local = threading.local()
        try:
            with self._errors("opening"):
                if os.path.isdir(self.path):
                    raise MetadataError(f"metadata store {self.path} is a directory, not a SQLite file")
                parent = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(parent, exist_ok=True)
                # Before creating indexes on tables that might be someone else's.
                self._check_schema()
                # executescript manages its own transaction; IF NOT EXISTS makes it safe to race.
                self._connection().executescript(SCHEMA)
                self._probe_write()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"MetadataStore({self.path!r})"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            lowered = detail.lower()
            cause = next((c for key, c in _CAUSES if key in lowered), "cannot be used")
            if "locked" in cause:
                cause += f" (waited {self.timeout:g} s)"
            raise MetadataError(f"metadata store {self.path} {cause}: {action} failed: {detail}") from exc

    def _check_schema(self) -> None:
        """The tables present have our columns: a store of another shape (another
        application's database at this path) is refused instead of failing on the first
        insert. Missing tables are created."""
        con = self._connection()
        for table, expected in EXPECTED_COLUMNS.items():
            found = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            missing = sorted(expected - found)
            if found and missing:
                raise MetadataError(
                    f"metadata store {self.path} has a table {table} without the columns "
                    f"{', '.join(missing)}: not a marketing_core metadata store"
                )

    def _probe_write(self) -> None:
        """Takes the write lock and inserts a row, then rolls back: a locked, read-only or
        damaged store fails here, before the caller writes any output."""
        con = self._connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "INSERT INTO file_metadata (file_name, uri, status, started_at, finished_at)"
                " VALUES ('probe', 'probe', 'probe', '', '')"
            )
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            con.row_factory = sqlite3.Row
            self._local.con = con
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        con = self._connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            # SQLite may have rolled back already (e.g. on a full disk); never mask the error.
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- data quality -------------------------------------------------------------------

    @_store_errors("recording checks")
    def record_checks(self, run_id: str, checks: Iterable[CheckRecord]) -> set[str]:
        """Stores every check of a run and updates ``dq_signature`` for failed checks.

        Returns the signatures of failed checks that were never seen before (the
        "failure delta" alerting keys on). Atomic: concurrent runs cannot both see a
        signature as new.
        """
        now = _now()
        new: set[str] = set()
        with self._write() as con:
            for c in checks:
                con.execute(
                    "INSERT INTO dq_checks (run_id, dataset, ds, file, check_name, column_name, severity,"
                    " status, rows_in, rows_failed, signature, sample_values, checked_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id, c.dataset, c.ds, c.file, c.check_name, c.column_name, c.severity,
                        c.status, c.rows_in, c.rows_failed, c.signature,
                        json.dumps(list(c.sample_values), default=str), now,
                    ),
                )
                if c.rows_failed == 0:
                    continue
                updated = con.execute(
                    "UPDATE dq_signature SET last_seen = ?, occurrences = occurrences + 1"
                    " WHERE signature = ?",
                    (now, c.signature),
                ).rowcount
                if updated == 0:
                    con.execute(
                        "INSERT INTO dq_signature (signature, dataset, check_name, column_name, rule,"
                        " first_seen, last_seen, occurrences) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                        (c.signature, c.dataset, c.check_name, c.column_name, c.rule, now, now),
                    )
                    new.add(c.signature)
        return new

    @_store_errors("reading signatures")
    def signatures(self) -> list[dict[str, Any]]:
        rows = self._connection().execute("SELECT * FROM dq_signature ORDER BY first_seen, signature")
        return [dict(r) for r in rows]

    @_store_errors("reading checks")
    def checks(self, *, dataset: str | None = None, ds: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM dq_checks WHERE 1=1", []
        if dataset is not None:
            sql, args = sql + " AND dataset = ?", [*args, dataset]
        if ds is not None:
            sql, args = sql + " AND ds = ?", [*args, ds]
        return [dict(r) for r in self._connection().execute(sql + " ORDER BY id", args)]

    # -- upload audit -------------------------------------------------------------------

    @_store_errors("recording upload attempts")
    def record_file_attempts(self, attempts: Iterable[Mapping[str, Any]]) -> int:
        """Appends upload attempts to ``file_metadata``. Each mapping has ``file_name``,
        ``uri``, ``status`` and optionally ``dataset``, ``ds``, ``md5``, ``size``,
        ``error``, ``started_at``, ``finished_at`` (ISO strings; default now)."""
        now = _now()
        count = 0
        with self._write() as con:
            for a in attempts:
                con.execute(
                    "INSERT INTO file_metadata (file_name, dataset, ds, md5, size, uri, status, error,"
                    " started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        a["file_name"], a.get("dataset"), a.get("ds"), a.get("md5"), a.get("size"),
                        a["uri"], a["status"], a.get("error"),
                        a.get("started_at") or now, a.get("finished_at") or now,
                    ),
                )
                count += 1
        return count

    @_store_errors("reading upload attempts")
    def file_attempts(self, *, uri: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM file_metadata", []
        if uri is not None:
            sql, args = sql + " WHERE uri = ?", [uri]
        return [dict(r) for r in self._connection().execute(sql + " ORDER BY id", args)]
