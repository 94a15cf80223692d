"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import DS
from marketing_core import cli


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marketing_core.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_generate_writes_a_day_and_prints_a_summary(tmp_path):
    out = tmp_path / "data"
    proc = run_cli("generate", "--ds", DS, "--scale", "0.01", "--out", str(out), "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert len(names) == 6 and f"contacts_{DS}.csv" in names
    assert "1,000" in proc.stdout and "written" in proc.stdout
    again = run_cli("generate", "--ds", DS, "--scale", "0.01", "--out", str(out), "--seed", "5")
    assert again.returncode == 0 and "skipped" in again.stdout and "nothing to do" in again.stdout


def test_one_dataset_in_another_format_with_defects(tmp_path):
    proc = run_cli(
        "generate", "--ds", DS, "--scale", "0.01", "--out", str(tmp_path), "--dataset", "contacts",
        "--format", "parquet", "--defects", "bad_email=0.1,null_key=0.05",
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [f"contacts_{DS}.parquet"]
    manifest = json.load(open(tmp_path / ".marketing_core" / f"contacts_{DS}.parquet.defects.json"))
    assert set(manifest["counts"]) == {"bad_email", "null_key"}
    assert f"bad_email={manifest['counts']['bad_email']}" in proc.stdout


def test_bad_arguments_exit_2_with_a_message(tmp_path):
    proc = run_cli("generate", "--ds", "2025-13-40", "--out", str(tmp_path))
    assert proc.returncode == 2 and 'invalid ds "2025-13-40"' in proc.stdout
    proc = run_cli("generate", "--ds", DS, "--scale", "-1", "--out", str(tmp_path))
    assert proc.returncode == 2 and "scale_factor must be" in proc.stdout
    proc = run_cli("generate", "--ds", DS, "--out", str(tmp_path), "--defects", "nonsense")
    assert proc.returncode == 2 and "KIND=RATE" in proc.stdout


def test_parse_defects_accepts_pairs_and_json():
    assert cli.parse_defects("null_key=0.1, bad_email=0.2") == {"null_key": 0.1, "bad_email": 0.2}
    assert cli.parse_defects('{"stale_date": 0.5}') == {"stale_date": 0.5}
    assert cli.parse_defects(None) is None


def test_domains_lists_name_source_and_datasets():
    shop = os.path.join(os.path.dirname(__file__), "data", "domains", "shop")
    proc = run_cli("domains", "--domain", shop, "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert [(d["name"], d["source"]) for d in listed] == [("marketing", "generate"), ("shop", "landing")]
    assert listed[0]["datasets"] == ["campaigns", "forms", "pages", "contacts", "form_fills", "website_activity"]
    assert listed[1]["datasets"] == ["customers", "orders"]
    table = run_cli("domains")
    assert table.returncode == 0 and "marketing" in table.stdout and "website_activity" in table.stdout
    bad = run_cli("domains", "--domain", os.path.dirname(shop))
    assert bad.returncode == 2 and "not a domain folder" in bad.stdout
