"""The validation engine: exact against the generator's truth manifests, tolerant of bad
input, stable failure signatures, a metadata store shared by concurrent runs."""

from __future__ import annotations

import json
import multiprocessing as mp
import pathlib
import subprocess
import sys

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marketing_core as mc
from conftest import DS, read_file
from marketing_core import domains
from marketing_core.metadata import MetadataStore

FACTS = ("contacts", "form_fills", "website_activity")
KIND_TO_CHECK = {
    "null_key": "not_null",
    "duplicate_key": "unique",
    "bad_email": "pattern",
    "stale_date": "freshness",
    "orphan_foreign_key": "foreign_key",
    "out_of_range": "range",
}


def label(kind: str, column: str) -> str:
    if kind == "inconsistent_bounce":
        return "row_rule:bounce_iff_single_page"
    return f"{KIND_TO_CHECK[kind]}:{column}"


def expected_failures(manifest_path: str) -> set[tuple[int, str]]:
    manifest = json.load(open(manifest_path))
    out = set()
    for d in manifest["defects"]:
        out.add((d["row"], label(d["kind"], d["column"])))
        if "partner_row" in d:
            out.add((d["partner_row"], label(d["kind"], d["column"])))
    return out


def found_failures(quarantine: pa.Table) -> set[tuple[int, str]]:
    rows = quarantine.column("_source_row").to_pylist()
    checks = quarantine.column("_failed_checks").to_pylist()
    return {(r, c) for r, cs in zip(rows, checks) for c in cs.split(";")}


def assert_exact(report: mc.ValidationReport, quarantine: pa.Table, manifest_path: str) -> None:
    want = expected_failures(manifest_path)
    assert want, "the manifest lists defects"
    assert found_failures(quarantine) == want  # no misses, no false alarms
    assert report.rows_in == report.rows_valid + report.rows_invalid
    assert report.rows_invalid == len({r for r, _ in want})
    for c in report.checks:
        assert c.rows_failed == sum(1 for _, l in want if l == c.label), c.label


@pytest.fixture(scope="module")
def bad_day(tmp_path_factory):
    """One day with every defect kind, facts in three different formats."""
    out = tmp_path_factory.mktemp("bad_day")
    rates = {"null_key": 0.01, "duplicate_key": 0.01, "bad_email": 0.02, "stale_date": 0.01,
             "orphan_foreign_key": 0.02, "out_of_range": 0.01, "inconsistent_bounce": 0.01}
    day = mc.generate_day(DS, out, scale_factor=0.03, seed=3, defects=rates)
    return out, day


@pytest.mark.parametrize("kind", [*KIND_TO_CHECK, "inconsistent_bounce"])
def test_each_defect_kind_is_flagged_exactly(tmp_path, kind):
    day = mc.generate_day(DS, tmp_path, scale_factor=0.02, seed=9, defects={kind: 0.03},
                          formats={"form_fills": "csv", "website_activity": "parquet"})
    checked = 0
    for name in FACTS:
        r = day[name]
        if r.defects_path is None:
            continue
        report = mc.validate(r.path, return_tables=True)
        assert_exact(report, report.quarantine_table, r.defects_path)
        failing = {c.check for c in report.checks if c.rows_failed}
        assert failing == {label(kind, "x").split(":")[0]}
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_all_defects_together_split_into_valid_and_quarantine_files(bad_day, tmp_path, fmt):
    data, day = bad_day
    for name in FACTS:
        src = day[name]
        path = src.path
        if not path.endswith(fmt):
            # The same day's rows in another format, manifest unchanged.
            table = read_file(path)
            path = str(data / f"{name}_{DS}.{fmt}")
            mc.generate(name, DS, data, scale_factor=0.03, seed=3, format=fmt, defects={
                "null_key": 0.01, "duplicate_key": 0.01, "bad_email": 0.02, "stale_date": 0.01,
                "orphan_foreign_key": 0.02, "out_of_range": 0.01, "inconsistent_bounce": 0.01})
            assert read_file(path).num_rows == table.num_rows
        manifest = str(data / ".marketing_core" / f"{pathlib.Path(path).name}.defects.json")
        out = tmp_path / name
        report = mc.validate(path, out_dir=out)
        quarantine = read_file(report.quarantine_path)
        valid = read_file(report.valid_path)
        assert report.valid_path.endswith(f"valid-data/{name}/ds={DS}/{name}_{DS}.{fmt}")
        assert valid.num_rows == report.rows_valid and quarantine.num_rows == report.rows_invalid
        assert valid.column_names == mc.load_contract(dataset=name).columns
        assert_exact(report, quarantine, manifest)
        saved = json.load(open(report.report_path))
        assert saved["rows_in"] == report.rows_in and saved["has_failure_delta"] is False
        assert {c["label"] for c in saved["checks"]} == {c.label for c in report.checks}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), scale=st.sampled_from([0.001, 0.004, 0.01]))
def test_clean_generated_data_passes_its_own_contract(seed, scale):
    tables = {d: mc.generate_table(d, DS, scale_factor=scale, seed=seed) for d in mc.DATASETS}
    for d, t in tables.items():
        report = mc.validate_table(t, d, ds=DS, references=tables)
        assert report.status == "passed", [c for c in report.checks if c.status != "passed"]
        assert report.rows_valid == t.num_rows and report.rows_invalid == 0
        assert report.valid_table.num_rows == t.num_rows and report.quarantine_table.num_rows == 0


def test_signatures_are_stable_and_a_second_bad_run_has_no_new_ones(bad_day, tmp_path):
    data, day = bad_day
    store = MetadataStore(tmp_path / "dq.sqlite")
    first = mc.validate(day["contacts"].path, metadata=store)
    assert first.has_failure_delta
    failing = {c.signature for c in first.checks if c.rows_failed}
    assert first.new_signatures == failing
    assert all(c.is_new == (c.signature in failing) for c in first.checks)
    second = mc.validate(day["contacts"].path, metadata=store)
    assert not second.has_failure_delta and second.new_signatures == frozenset()
    assert [c.signature for c in second.checks] == [c.signature for c in first.checks]
    # Signatures depend on (dataset, check, column, rule), not on the day or the values.
    other = mc.generate("contacts", "2025-05-26", tmp_path, scale_factor=0.03, seed=99, defects={"bad_email": 0.1})
    third = mc.validate(other.path, metadata=store, references=data)
    assert third.check("pattern:email").signature == first.check("pattern:email").signature
    assert not third.has_failure_delta
    sigs = {s["signature"]: s for s in store.signatures()}
    assert sigs[first.check("pattern:email").signature]["occurrences"] == 3
    assert len(store.checks(dataset="contacts", ds=DS)) == 2 * len([c for c in first.checks if c.status != "skipped"])


def _validate_into(path: str, store_path: str, out) -> None:
    report = mc.validate(path, metadata=store_path)
    out.put(sorted(report.new_signatures))


def test_concurrent_runs_share_one_metadata_store(bad_day, tmp_path):
    data, day = bad_day
    store_path = str(tmp_path / "dq.sqlite")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    paths = [day["contacts"].path, day["form_fills"].path, day["contacts"].path, day["form_fills"].path]
    procs = [ctx.Process(target=_validate_into, args=(p, store_path, out)) for p in paths]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    new = [s for r in results for s in r]
    assert len(new) == len(set(new)), "no signature is new twice"
    expected = {c.signature for path in paths[:2] for c in mc.validate(path).checks if c.rows_failed}
    assert set(new) == expected
    store = MetadataStore(store_path)
    assert all(s["occurrences"] == 2 for s in store.signatures())


# --- bad input loses nothing --------------------------------------------------------------

HEADER = "contact_id,first_name,last_name,email,company,industry,lead_source,job_title,country,opted_in,signup_date\n"


def contact_row(n: int, email: str = "ann.lee@acme.com") -> str:
    return f"{n:08x}-e89b-12d3-a456-426614174000,Ann,Lee,{email},Acme,Retail,Web,CTO,France,true,{DS} 10:00:00\n"


def test_ragged_csv_rows_and_bad_bytes_go_to_quarantine_with_their_line(tmp_path):
    path = tmp_path / f"contacts_{DS}.csv"
    body = HEADER + contact_row(1) + "only,three,fields\n" + contact_row(2)
    path.write_bytes(body.encode() + contact_row(3).replace("Ann", "An\xe9").encode("latin-1") + contact_row(4).encode())
    report = mc.validate(path, return_tables=True)
    assert (report.rows_in, report.rows_valid, report.rows_invalid) == (5, 3, 2)
    q = report.quarantine_table.to_pylist()
    assert [r["_source_line"] for r in q] == [3, 5]
    assert [r["_source_row"] for r in q] == [1, 3]
    assert q[0]["_error"] == "expected 11 fields, found 3" and q[0]["_raw"] == "only,three,fields"
    assert q[1]["_error"] == "invalid UTF-8 in field 2 at byte 2 of the field"
    assert all(r["_failed_checks"] == "parse" for r in q)
    assert report.check("parse").samples[0] == "line 3: expected 11 fields, found 3"


def test_a_malformed_json_line_is_one_quarantined_row(tmp_path):
    good = read_file(mc.generate("contacts", DS, tmp_path / "g", scale_factor=0.0001, format="json").path)
    lines = [json.dumps(r, default=str) for r in good.to_pylist()]
    lines.insert(1, '{"contact_id": "abc", "email": ')
    lines.insert(3, "\xff\xfe not json")
    path = tmp_path / f"contacts_{DS}.json"
    path.write_bytes("\n".join(lines).encode("utf-8").replace("\xff\xfe".encode(), b"\xff\xfe") + b"\n")
    report = mc.validate(path, return_tables=True)
    assert report.rows_in == good.num_rows + 2 and report.rows_invalid == 2
    q = report.quarantine_table.to_pylist()
    assert [r["_source_line"] for r in q] == [2, 4]
    assert q[0]["_error"].startswith("malformed JSON: EOF while parsing a value at line 1 column 31")
    assert q[1]["_error"] == "invalid UTF-8 at byte 0 of the line"


def test_a_truncated_parquet_file_is_a_clear_error(tmp_path):
    src = mc.generate("contacts", DS, tmp_path / "g", scale_factor=0.01, format="parquet")
    path = tmp_path / f"contacts_{DS}.parquet"
    data = pathlib.Path(src.path).read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(mc.ValidationError) as err:
        mc.validate(path)
    assert str(err.value).startswith(
        f"cannot read {path}: not a readable Parquet file: the footer at byte {len(data) // 3} (end of file) is invalid"
    )
    with pytest.raises(mc.ValidationError, match="no such file"):
        mc.validate(tmp_path / f"contacts_{DS}.csv")


def test_empty_and_header_only_files_are_reported(tmp_path):
    empty = tmp_path / f"contacts_{DS}.csv"
    empty.write_bytes(b"")
    r = mc.validate(empty, out_dir=tmp_path / "out")
    assert (r.rows_in, r.status) == (0, "failed")
    assert r.check("schema").message == "the file has no header or columns"
    assert r.check("row_count").message == "0 rows < min 1"
    header_only = tmp_path / f"contacts_2025-05-26.csv"
    header_only.write_text(HEADER)
    r = mc.validate(header_only, out_dir=tmp_path / "out")
    assert r.rows_in == 0 and [c.label for c in r.checks if c.status == "failed"] == ["row_count"]
    assert read_file(r.valid_path).column_names == mc.load_contract(dataset="contacts").columns
    empty_json = tmp_path / f"website_activity_{DS}.json"
    empty_json.write_bytes(b"")
    r = mc.validate(empty_json)
    # No records, no columns: like a CSV without a header, a file-level schema failure.
    assert r.rows_in == 0 and [c.label for c in r.checks if c.status == "failed"] == ["schema", "row_count"]


def test_uncastable_values_are_row_failures(tmp_path):
    path = tmp_path / f"website_activity_{DS}.csv"
    t = mc.generate_table("website_activity", DS, scale_factor=0.0001)
    rows = t.to_pylist()
    import csv
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=t.column_names)
        w.writeheader()
        for i, r in enumerate(rows):
            if i == 2:
                r = {**r, "pages_viewed": "two", "event_date": "25/05/2025"}
            w.writerow(r)
    report = mc.validate(path, return_tables=True, references={})
    q = report.quarantine_table.to_pylist()
    assert len(q) == 1 and q[0]["_source_row"] == 2
    assert q[0]["_failed_checks"] == "type:event_date;type:pages_viewed"
    assert q[0]["pages_viewed"] == "two"
    assert report.check("type:pages_viewed").samples == ("two",)
    assert report.check("foreign_key:contact_id").status == "skipped"


def test_schema_drift_missing_extra_and_reordered_columns():
    t = mc.generate_table("form_fills", DS, scale_factor=0.001)
    drifted = t.drop_columns(["user_agent"]).append_column("utm", pa.array(["x"] * t.num_rows))
    drifted = drifted.select(["form_id", "fill_id", *drifted.column_names[2:]])
    report = mc.validate_table(drifted, "form_fills", ds=DS)
    assert report.check("schema:user_agent").status == "failed"
    assert report.check("schema:utm").status == "warn"
    assert report.check("schema").message.startswith("columns are reordered: found form_id, fill_id")
    assert report.rows_invalid == t.num_rows  # a required column is missing from every row
    ok = mc.validate_table(t.select(t.column_names[::-1]), "form_fills", ds=DS)
    assert ok.rows_invalid == 0 and ok.status == "warn"
    assert ok.valid_table.column_names == t.column_names


# --- contracts ----------------------------------------------------------------------------

def test_default_contracts_match_the_generated_schemas():
    for d in mc.DATASETS:
        contract = mc.load_contract(dataset=d)
        table = mc.generate_table(d, DS, scale_factor=0.0001)
        assert contract.columns == table.column_names
        derived = domains.contract(domains.load_domain("marketing").dataset(d))
        assert mc.load_contract(derived.spec) == contract


def test_user_contracts_in_yaml_override_severity_tolerance_and_rules(tmp_path, bad_day):
    data, day = bad_day
    contract = tmp_path / "contacts.yaml"
    contract.write_text(
        "dataset: contacts\n"
        "columns:\n"
        + "".join(
            f"  - {{name: {c}, type: {t}}}\n"
            for c, t in [("contact_id", "string"), ("first_name", "string"), ("last_name", "string")]
        )
        + "  - {name: email, type: string, pattern: email, severity: warn}\n"
        + "".join(
            f"  - {{name: {c}, type: {t}, required: false}}\n"
            for c, t in [("company", "string"), ("industry", "string"), ("lead_source", "string"),
                         ("job_title", "string"), ("country", "string"), ("opted_in", "bool"),
                         ("signup_date", "timestamp")]
        )
        + "rules:\n  - {name: named, rule: \"first_name <> 'Nobody'\", tolerance: 0.5}\n"
        + "row_count: {min: 1, max: 10}\n"
    )
    report = mc.validate(day["contacts"].path, contract=contract, return_tables=True)
    assert report.check("pattern:email").status == "warn" and report.check("pattern:email").rows_failed > 0
    # A warn check never quarantines a row on its own.
    assert all(set(cs.split(";")) - {"pattern:email"} for cs in report.quarantine_table.column("_failed_checks").to_pylist())
    assert report.check("row_count").status == "failed"
    assert report.check("not_null:contact_id").rows_failed > 0
    with pytest.raises(mc.ContractError, match="unknown field `colour`"):
        mc.load_contract({"dataset": "x", "columns": [{"name": "a", "type": "string", "colour": "red"}]})
    with pytest.raises(mc.ContractError, match="unknown column \"nope\""):
        mc.load_contract("dataset: x\ncolumns: [{name: a, type: bool}]\nrules: [{name: r, rule: nope = 1}]\n")


def test_tolerance_turns_a_failure_into_tolerated_but_still_quarantines(bad_day):
    data, day = bad_day
    spec = json.loads(mc.load_contract(dataset="contacts").to_json())
    for c in spec["columns"]:
        if c["name"] == "email":
            c["tolerance"] = 0.5
    report = mc.validate(day["contacts"].path, contract=spec)
    email = report.check("pattern:email")
    assert email.status == "tolerated" and 0 < email.failed_fraction <= 0.5
    strict = mc.validate(day["contacts"].path)
    assert report.rows_invalid == strict.rows_invalid


def test_row_count_change_against_the_previous_day(tmp_path):
    store = MetadataStore(tmp_path / "dq.sqlite")
    a = mc.generate("contacts", "2025-05-24", tmp_path, scale_factor=0.02)
    b = mc.generate("contacts", DS, tmp_path, scale_factor=0.005)
    assert mc.validate(a.path, metadata=store).check("row_count").status == "passed"
    r = mc.validate(b.path, metadata=store)
    assert r.check("row_count").status == "failed"
    assert r.check("row_count").message == "500 rows vs 2000 the previous day: change 75.0% > 50.0%"


def test_polars_frames_validate_in_memory():
    df = pl.from_arrow(mc.generate_table("contacts", DS, scale_factor=0.001, defects={"bad_email": 0.2}))
    report = mc.validate_table(df, "contacts", ds=DS)
    assert report.rows_invalid == report.check("pattern:email").rows_failed > 0
    assert pl.from_arrow(report.valid_table).height == report.rows_valid


def test_cli_validate_prints_checks_and_exits_1_on_failures(bad_day, tmp_path):
    data, day = bad_day
    run = lambda *a: subprocess.run([sys.executable, "-m", "marketing_core.cli", "validate", *a],
                                    capture_output=True, text=True, timeout=300)
    bad = run(day["contacts"].path, "--out", str(tmp_path / "out"), "--metadata", str(tmp_path / "m.sqlite"))
    assert bad.returncode == 1, bad.stderr
    assert "pattern:email" in bad.stdout and "failed" in bad.stdout and "new" in bad.stdout
    assert (tmp_path / "out" / "dq-reports" / "contacts" / f"ds={DS}" / "report.json").exists()
    clean_dir = tmp_path / "clean"
    mc.generate_day(DS, clean_dir, scale_factor=0.001)
    ok = run(str(clean_dir), "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    decoder, text, reports = json.JSONDecoder(), ok.stdout.strip(), []
    while text:
        obj, end = decoder.raw_decode(text)
        reports.append(obj)
        text = text[end:].strip()
    assert [r["dataset"] for r in reports] == list(mc.DATASETS)
    assert all(r["status"] == "passed" and r["rows_invalid"] == 0 for r in reports)
    missing = run(str(tmp_path / f"contacts_{DS}.parquet"))
    assert missing.returncode == 2 and "cannot read" in missing.stdout
