"""Sizes never crash: a huge scale factor is refused with the estimate before anything is
allocated or written, and a bad seed is an InvalidArgumentError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import marketing_core as mc
from conftest import DS
from marketing_core.exceptions import InvalidArgumentError, ResourceLimitError

# The dangerous calls run in a child with 6 GB of address space and 64 MB per file: a
# regression that really allocates or writes dies there (MemoryError, SIGXFSZ) instead of
# taking the test session or the disk with it.
CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
import marketing_core as mc
call, kwargs = sys.argv[1], json.loads(sys.argv[2])
started = time.monotonic()
try:
    getattr(mc, call)(**kwargs)
    outcome = {"error": None}
except Exception as exc:
    outcome = {"error": type(exc).__name__, "message": str(exc),
               "invalid_argument": isinstance(exc, mc.InvalidArgumentError)}
outcome["seconds"] = time.monotonic() - started
print(json.dumps(outcome))
"""


def run_limited(call: str, env: dict[str, str] | None = None, **kwargs) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, call, json.dumps(kwargs)],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"the child died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def files_under(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_scale_1e9_is_refused_at_once_with_the_estimate(tmp_path):
    out = tmp_path / "out"
    got = run_limited("generate", dataset="contacts", ds=DS, out_dir=str(out), scale_factor=1e9)
    assert got["error"] == "ResourceLimitError" and got["invalid_argument"], got
    message = got["message"]
    assert "contacts_2025-05-25.csv" in message and "100000000000000 rows" in message, message
    assert "would take about" in message and " bytes), more than the " in message, message
    assert "free on the disk of" in message and "max_bytes" in message, message
    assert got["seconds"] < 5, got
    assert files_under(out) == [], "nothing written, not even the directory"


def test_scale_1e7_is_refused_instead_of_filling_the_disk(tmp_path):
    out = tmp_path / "out"
    got = run_limited("generate", dataset="website_activity", ds=DS, out_dir=str(out), scale_factor=1e7)
    assert got["error"] == "ResourceLimitError", got
    assert "website_activity_2025-05-25.json" in got["message"] and got["seconds"] < 5, got
    assert files_under(out) == []


def test_a_day_at_a_huge_scale_writes_no_file_at_all(tmp_path):
    out = tmp_path / "out"
    got = run_limited("generate_day", ds=DS, out_dir=str(out), scale_factor=1e9)
    assert got["error"] == "ResourceLimitError", got
    # Refused as a whole, before the small dimension files come first.
    assert "campaigns, forms, pages, contacts, form_fills, website_activity" in got["message"], got
    assert files_under(out) == []


def test_generate_table_at_1e5_is_refused_before_allocating(tmp_path):
    got = run_limited("generate_table", dataset="website_activity", ds=DS, scale_factor=1e5)
    assert got["error"] == "ResourceLimitError", got
    message = got["message"]
    assert "building website_activity in memory" in message and "50000000000 rows" in message, message
    assert "memory bound" in message and got["seconds"] < 5, got


def test_max_bytes_and_the_environment_set_the_limit(tmp_path, monkeypatch):
    with pytest.raises(ResourceLimitError, match=r"the limit of 1\.0 kB \(max_bytes\)") as refused:
        mc.generate("contacts", DS, tmp_path / "a", scale_factor=0.01, max_bytes=1000)
    assert isinstance(refused.value, InvalidArgumentError)
    assert files_under(tmp_path / "a") == []
    with pytest.raises(ResourceLimitError, match="limit of 1.0 kB"):
        mc.generate_table("contacts", DS, scale_factor=0.01, max_bytes=1000)

    monkeypatch.setenv("MARKETING_CORE_MAX_OUTPUT_BYTES", "1000")
    with pytest.raises(ResourceLimitError, match=r"\(\$MARKETING_CORE_MAX_OUTPUT_BYTES\)"):
        mc.generate_day(DS, tmp_path / "b", scale_factor=0.01)
    assert files_under(tmp_path / "b") == []
    # An explicit argument wins over the environment, both ways.
    r = mc.generate("contacts", DS, tmp_path / "c", scale_factor=0.01, max_bytes=10**8)
    assert r.rows == 1000 and not r.skipped
    monkeypatch.setenv("MARKETING_CORE_MAX_OUTPUT_BYTES", "lots")
    with pytest.raises(InvalidArgumentError, match="MARKETING_CORE_MAX_OUTPUT_BYTES must be a whole number"):
        mc.generate("contacts", DS, tmp_path / "d", scale_factor=0.01)
    with pytest.raises(InvalidArgumentError, match="max_bytes must be a whole number"):
        mc.generate("contacts", DS, tmp_path / "d", scale_factor=0.01, max_bytes=-1)


def test_a_rerun_of_a_day_already_written_is_not_refused(tmp_path, monkeypatch):
    first = mc.generate_day(DS, tmp_path, scale_factor=0.01, seed=3)
    # The day is on disk; a limit below its size does not stop the no-op rerun.
    monkeypatch.setenv("MARKETING_CORE_MAX_OUTPUT_BYTES", str(first.bytes // 10))
    again = mc.generate_day(DS, tmp_path, scale_factor=0.01, seed=3)
    assert all(r.skipped for r in again)


def test_normal_scales_still_work(tmp_path):
    started = time.monotonic()
    day = mc.generate_day(DS, tmp_path, scale_factor=0.02, seed=5)
    assert day["contacts"].rows == 2000 and day["website_activity"].rows == 10_000
    table = mc.generate_table("website_activity", DS, scale_factor=0.02, seed=5)
    assert table.num_rows == 10_000
    assert time.monotonic() - started < 60


def test_cli_max_bytes_refuses_with_one_line_and_exit_2(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "marketing_core.cli", "generate", "--ds", DS, "--scale", "0.01",
         "--out", str(out), "--max-bytes", "1000"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and "max_bytes" in lines[0] and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert files_under(out) == []


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "42", "forty-two", True, [1]])
def test_a_bad_seed_is_an_invalid_argument(tmp_path, seed):
    with pytest.raises(InvalidArgumentError, match="seed must be a whole number from 0 to 18446744073709551615"):
        mc.generate("contacts", DS, tmp_path, scale_factor=0.01, seed=seed)
    with pytest.raises(InvalidArgumentError, match="seed must be a whole number"):
        mc.generate_table("contacts", DS, scale_factor=0.01, seed=seed)
    with pytest.raises(InvalidArgumentError, match="seed must be a whole number"):
        mc.generate_day(DS, tmp_path, scale_factor=0.01, seed=seed)
    assert files_under(tmp_path) == []


def test_the_extreme_good_seeds_work():
    for seed in (0, 2**64 - 1):
        assert mc.generate_table("contacts", DS, scale_factor=0.001, seed=seed).num_rows == 100
