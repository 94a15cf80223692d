"""A metadata store that cannot be used is one MetadataError naming the path and the
cause, raised when the store is opened: before validate writes any output, and on the
command line as one line with exit status 2."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

import marketing_core as mc
from conftest import DS
from marketing_core.exceptions import MarketingCoreError, MetadataError
from marketing_core.metadata import CheckRecord, MetadataStore


def a_check(signature: str = "sig") -> CheckRecord:
    return CheckRecord("contacts", "not_null", "email", "error", "failed", 10, 1, signature)


def files_under(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def not_a_database(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 20)
    return path


def truncated(tmp_path):
    """A real store with history, cut in half (a copy interrupted, a full disk)."""
    path = tmp_path / "cut.sqlite"
    store = MetadataStore(path)
    store.record_checks("run", [a_check(f"sig{i}") for i in range(3000)])
    store.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")  # fold the WAL into the file first
    con.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def read_only(tmp_path):
    path = tmp_path / "ro.sqlite"
    MetadataStore(path).close()
    path.chmod(0o444)
    if os.geteuid() == 0:
        # root ignores permissions: make the file immutable instead (undone at teardown).
        subprocess.run(["chattr", "+i", str(path)], check=True)
    return path


def a_directory(tmp_path):
    path = tmp_path / "store.sqlite"
    path.mkdir()
    return path


def another_schema(tmp_path):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE dq_checks (id INTEGER PRIMARY KEY, note TEXT)")
    con.commit()
    con.close()
    return path


@pytest.fixture
def unlock(tmp_path):
    yield
    for p in tmp_path.rglob("*.sqlite"):
        subprocess.run(["chattr", "-i", str(p)], capture_output=True)


BAD_STORES = {
    "not a database": (not_a_database, "is not a SQLite database"),
    "truncated": (truncated, "is damaged or truncated"),
    "read-only": (read_only, "is read-only"),
    "a directory": (a_directory, "is a directory"),
    "another schema": (another_schema, "without the columns"),
}


@pytest.mark.parametrize("case", list(BAD_STORES))
def test_a_bad_store_is_one_metadata_error_naming_path_and_cause(tmp_path, unlock, case):
    make, cause = BAD_STORES[case]
    path = make(tmp_path)
    with pytest.raises(MetadataError) as raised:
        MetadataStore(path)
    message = str(raised.value)
    assert str(path) in message and cause in message, message
    assert isinstance(raised.value, MarketingCoreError) and not isinstance(raised.value, sqlite3.Error)


def test_a_locked_store_waits_the_busy_timeout_then_is_a_metadata_error(tmp_path):
    path = tmp_path / "busy.sqlite"
    MetadataStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(MetadataError, match=r"is locked by another connection \(waited 0\.3 s\)") as raised:
            MetadataStore(path, timeout=0.3)
        assert str(path) in str(raised.value)
        assert 0.25 <= time.monotonic() - started < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Once the lock is gone the same store works.
    assert MetadataStore(path, timeout=0.3).record_checks("run", [a_check()]) == {"sig"}


def test_a_lock_taken_after_opening_is_a_metadata_error_too(tmp_path):
    path = tmp_path / "busy.sqlite"
    store = MetadataStore(path, timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(MetadataError, match="recording checks failed"):
            store.record_checks("run", [a_check()])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.checks() == [], "the failed run left nothing behind"


@pytest.fixture
def contacts_file(tmp_path):
    return mc.generate("contacts", DS, tmp_path / "in", scale_factor=0.01, seed=3).path


@pytest.mark.parametrize("case", ["not a database", "read-only", "a directory"])
def test_validate_with_a_bad_store_writes_no_output(tmp_path, unlock, contacts_file, case):
    make, cause = BAD_STORES[case]
    bad = make(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(MetadataError, match=cause):
        mc.validate(contacts_file, out_dir=out, metadata=bad)
    assert files_under(out) == []


def test_cli_validate_with_a_bad_store_prints_one_line_and_exits_2(tmp_path, unlock, contacts_file):
    bad = read_only(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "marketing_core.cli", "validate", contacts_file, "--out", str(out),
         "--metadata", str(bad)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "is read-only" in lines[0], proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert files_under(out) == []
