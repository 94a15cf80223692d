"""The bucket layout: one module spells it (``marketing_core.layout`` over ``src/layout.rs``),
uploads publish each file under the kind its folder says, and validation outputs never
overwrite data and are always readable by other readers."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import polars as pl
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

import marketing_core as mc
from conftest import DS, REPO, read_file

BUCKET = "marketing-data"
DEFECTS = {"bad_email": 0.05, "null_key": 0.02, "orphan_foreign_key": 0.03}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marketing_core.cli", *args], capture_output=True, text=True, timeout=300
    )




def read_with_polars(path: str | pathlib.Path) -> pl.DataFrame:
    path = str(path)
    if path.endswith(".parquet"):
        return pl.read_parquet(path)
    if path.endswith(".csv"):
        return pl.read_csv(path, infer_schema=False)
    return pl.read_ndjson(path)


def bucket_files(root: pathlib.Path) -> dict[str, pathlib.Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


# -- item 1: validate --out, then upload OUT ------------------------------------------------


@pytest.fixture(scope="module")
def defective_day(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout_day")
    day = mc.generate_day(DS, root / "in", scale_factor=0.02, seed=11, defects=DEFECTS)
    return root, day


def test_cli_upload_of_validated_output_publishes_each_file_under_its_kind(defective_day, tmp_path):
    root, day = defective_day
    out = tmp_path / "out"
    proc = run_cli("validate", str(root / "in"), "--out", str(out), "--ds", DS)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the defects fail error checks
    store = tmp_path / "store"
    proc = run_cli("upload", str(out), "--store", f"file://{store}", "--bucket", BUCKET)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    objects = bucket_files(store / BUCKET)
    local = bucket_files(out)
    # Every validated file is published, byte for byte, at the key its path says.
    assert sorted(objects) == sorted(local)
    for key, path in objects.items():
        assert path.read_bytes() == local[key].read_bytes(), key

    quarantined = 0
    for key, path in objects.items():
        kind, dataset, part, _ = key.split("/")
        ds = part.removeprefix("ds=")
        if kind == "valid-data":
            table = read_file(path)
            assert "_failed_checks" not in table.column_names, key
            # Validated again against its contract and the day's references: no bad row.
            again = mc.validate(path, dataset, ds=ds, references=root / "in")
            assert (again.rows_invalid, again.rows_in) == (0, table.num_rows), key
        elif kind == "quarantine-data":
            table = read_file(path)
            assert "_failed_checks" in table.column_names and table.num_rows > 0, key
            quarantined += table.num_rows
    reports = [json.loads(p.read_text()) for k, p in objects.items() if k.startswith("dq-reports/")]
    assert len(reports) == 6
    assert quarantined == sum(r["rows_invalid"] for r in reports) > 0
    for r in reports:
        key = f"quarantine-data/{r['dataset']}/ds={DS}/"
        assert any(k.startswith(key) for k in objects) == (r["rows_invalid"] > 0), r["dataset"]


def test_two_files_for_one_key_are_refused_before_any_request(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / f"contacts_{DS}.csv").write_text(f"contact_id\n{d.name}\n")
    store = tmp_path / "store"
    with pytest.raises(mc.InvalidKeyError) as err:
        mc.upload([a, b], bucket=BUCKET, store=f"file://{store}")
    message = str(err.value)
    assert str(a / f"contacts_{DS}.csv") in message and str(b / f"contacts_{DS}.csv") in message
    key = f"valid-data/contacts/ds={DS}/contacts_{DS}.csv"
    with pytest.raises(mc.InvalidKeyError, match="two files map to this key"):
        mc.upload([], keys={a / f"contacts_{DS}.csv": key, b / f"contacts_{DS}.csv": key},
                  bucket=BUCKET, store=f"file://{store}")
    assert not store.exists() or bucket_files(store) == {}


def test_uploads_of_a_tree_record_their_dataset_and_day(tmp_path):
    from marketing_core.metadata import MetadataStore

    mc.generate("pages", DS, tmp_path / "in", scale_factor=0.01)
    mc.validate(tmp_path / "in" / f"pages_{DS}.json", out_dir=tmp_path / "out")
    db = tmp_path / "meta.sqlite"
    report = mc.upload_tree(tmp_path / "out", store=f"file://{tmp_path / 'store'}", bucket=BUCKET, metadata=db)
    assert report.counts()["uploaded"] == 2  # the valid file and the report; no empty quarantine
    attempts = MetadataStore(db).file_attempts()
    assert {(a["dataset"], a["ds"]) for a in attempts} == {("pages", DS)}


# -- item 3: output paths --------------------------------------------------------------------


def test_outputs_that_would_overwrite_data_are_refused(tmp_path):
    src = tmp_path / "in"
    r = mc.generate("contacts", DS, src, scale_factor=0.01, defects={"bad_email": 0.1})
    original = pathlib.Path(r.path).read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    # One file spelled two ways is still one file.
    with pytest.raises(mc.InvalidArgumentError) as err:
        mc.validate(r.path, valid_out=out / "x.csv", quarantine_out=out / ".." / "out" / "x.csv")
    assert "quarantine_out" in str(err.value) and "valid_out" in str(err.value)
    assert str(out / "x.csv") in str(err.value)
    with pytest.raises(mc.InvalidArgumentError, match="the input"):
        mc.validate(r.path, valid_out=r.path)
    os.symlink(r.path, tmp_path / "link.csv")
    with pytest.raises(mc.InvalidArgumentError, match=re.escape(str(tmp_path / "link.csv"))):
        mc.validate(r.path, quarantine_out=tmp_path / "link.csv")
    assert pathlib.Path(r.path).read_bytes() == original
    assert list(out.iterdir()) == []


def test_the_extension_decides_the_output_format(tmp_path):
    r = mc.generate("contacts", DS, tmp_path / "in", scale_factor=0.01, defects={"bad_email": 0.1})
    report = mc.validate(r.path, valid_out=tmp_path / "v.parquet", quarantine_out=tmp_path / "q.json")
    valid = pq.read_table(tmp_path / "v.parquet")
    assert valid.num_rows == report.rows_valid > 0
    assert pl.read_parquet(tmp_path / "v.parquet").height == report.rows_valid
    assert pajson.read_json(tmp_path / "q.json").num_rows == report.rows_invalid > 0
    with pytest.raises(mc.InvalidArgumentError, match="output_format=csv contradicts valid_out"):
        mc.validate(r.path, valid_out=tmp_path / "w.parquet", output_format="csv")
    with pytest.raises(mc.InvalidArgumentError, match="cannot tell the format of valid_out"):
        mc.validate(r.path, valid_out=tmp_path / "w.out")
    assert not (tmp_path / "w.parquet").exists() and not (tmp_path / "w.out").exists()


def _failing_every_row() -> dict:
    spec = json.loads(mc.load_contract(dataset="contacts").to_json())
    for c in spec["columns"]:
        if c["name"] == "email":
            c["pattern"] = "^never$"
    return spec


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_every_file_written_is_readable_by_pyarrow_and_polars(tmp_path, fmt):
    clean = mc.generate("contacts", DS, tmp_path / "clean", scale_factor=0.01, format=fmt)
    bad = mc.generate("contacts", DS, tmp_path / "bad", scale_factor=0.01, format=fmt, defects={"bad_email": 0.1})
    runs = {
        "clean": mc.validate(clean.path, out_dir=tmp_path / "o1"),
        "defective": mc.validate(bad.path, out_dir=tmp_path / "o2"),
        "all_invalid": mc.validate(clean.path, contract=_failing_every_row(), out_dir=tmp_path / "o3"),
    }
    columns = mc.load_contract(dataset="contacts").columns
    for name, report in runs.items():
        out = pathlib.Path(report.report_path).parents[3]
        written = [p for p in out.rglob("*") if p.is_file() and p.name != "report.json"]
        assert sorted(map(str, written)) == sorted(p for p in (report.valid_path, report.quarantine_path) if p), name
        for path in written:
            assert path.suffix == f".{fmt}"
            rows = report.rows_valid if "valid-data" in path.parts else report.rows_invalid
            by_pyarrow, by_polars = read_file(path), read_with_polars(path)
            assert by_pyarrow.num_rows == by_polars.height == rows, (name, path)
            assert by_pyarrow.column_names[: len(columns)] == columns
    # A clean day writes no quarantine file, and says so.
    assert runs["clean"].quarantine_path is None and runs["clean"].rows_invalid == 0
    assert any("no quarantine file written" in n and "no invalid rows" in n for n in runs["clean"].notes)
    # No valid row: an empty file where the format can carry the columns, else no file.
    empty = runs["all_invalid"]
    assert empty.rows_valid == 0 and empty.rows_invalid == empty.rows_in > 0
    if fmt == "json":
        assert empty.valid_path is None and any("no valid file written" in n for n in empty.notes)
    else:
        assert read_file(empty.valid_path).column_names == columns
        assert read_with_polars(empty.valid_path).columns == columns


def test_a_rerun_without_invalid_rows_removes_the_old_quarantine(tmp_path):
    r = mc.generate("contacts", DS, tmp_path / "in", scale_factor=0.01)
    out = tmp_path / "out"
    first = mc.validate(r.path, contract=_failing_every_row(), out_dir=out)
    assert pathlib.Path(first.quarantine_path).is_file()
    second = mc.validate(r.path, out_dir=out)
    assert second.quarantine_path is None and not pathlib.Path(first.quarantine_path).exists()


# -- item 2: one layout module -----------------------------------------------------------------


def test_layout_module_round_trips_keys_and_names():
    from marketing_core import layout

    assert layout.KINDS == ("valid-data", "quarantine-data", "dq-reports")
    for kind in layout.KINDS:
        key = layout.object_key(kind, "contacts", DS, layout.data_file_name("contacts", DS, "csv"))
        parts = layout.parse_key(key)
        assert (parts.kind, parts.dataset, parts.ds) == (kind, "contacts", DS)
        assert key.startswith(layout.day_prefix(kind, "contacts", DS) + "/")
    assert layout.parse_key(f"dq-reports/pages/ds={DS}/report.json").file_name == layout.REPORT_FILE
    assert layout.parse_file_name(f"form_fills_{DS}.quarantine.parquet") == ("form_fills", DS, "quarantine.parquet")
    with pytest.raises(mc.InvalidKeyError):
        layout.object_key("valid-data", "contacts", "yesterday", "x.csv")
    paths = layout.output_paths("/o", "contacts", DS, f"contacts_{DS}.json", "csv")
    assert [p.relative_to("/o").as_posix() for p in paths] == [
        layout.object_key(k, "contacts", DS, f"contacts_{DS}.csv") for k in layout.KINDS
    ]


def test_pipeline_and_dags_ask_the_layout(tmp_path):
    from marketing_core import layout, pipeline

    assert pipeline.day_upload_patterns(DS, "valid-data", "dq-reports") == [
        layout.day_pattern("valid-data", DS), layout.day_pattern("dq-reports", DS)
    ]
    import importlib.util

    spec = importlib.util.spec_from_file_location("s3_event_pipeline_under_test", REPO / "airflow_dags" / "s3_event_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sensor = module.dag.get_task("wait_for_valid_data")
    assert sensor.bucket_key == [layout.day_pattern("valid-data", module.DS, name) for name in mc.DATASETS]


def _dbt_macros():
    """The dbt loading macros rendered by plain Jinja, with dbt's ``return``: the value
    goes to the caller as is (not rendered into the macro's text), as dbt does it."""
    from unittest import mock

    import jinja2
    import jinja2.runtime

    class Returned(Exception):
        def __init__(self, value):
            self.value = value

    def dbt_return(value):
        raise Returned(value)

    plain_call = jinja2.runtime.Macro.__call__

    def call_returning(self, *args, **kwargs):
        try:
            return plain_call(self, *args, **kwargs)
        except Returned as returned:
            return returned.value

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals["return"] = dbt_return
    source = "\n".join((REPO / "dbt" / "macros" / "loading" / name).read_text()
                       for name in ("load_raw_day.sql", "snowflake_loading.sql"))
    module = env.from_string(source).module

    def render(macro, *args):
        with mock.patch.object(jinja2.runtime.Macro, "__call__", call_returning):
            return str(getattr(module, macro)(*args)).strip()

    return render


def test_dbt_loaders_read_the_prefix_the_layout_writes():
    from marketing_core import layout

    call = _dbt_macros()
    for name in mc.DATASETS:
        prefix = layout.day_prefix(layout.VALID_DATA, name, DS)
        assert call("marketing_day_prefix", "s3://b/", name, DS) == f"s3://b/{prefix}"
        # Snowflake's stage sits on <bucket>/valid-data/; a day is a path below it.
        assert call("marketing_valid_root", "s3://b") + call("marketing_day_path", name, DS) == f"s3://b/{prefix}"
        report = layout.object_key(layout.DQ_REPORTS, name, DS, layout.REPORT_FILE)
        assert call("marketing_report_path", "s3://b/", name, DS) == f"s3://b/{report}"
    snowflake = (REPO / "dbt" / "macros" / "loading" / "snowflake_loading.sql").read_text()
    assert "/ds=" not in snowflake.replace("marketing_day_path", "")


def test_nobody_else_spells_the_layout():
    """The layout's spellings (`valid-data/...`, `ds=` partitions, `report.json`) appear in
    code only in the layout module; docstrings and comments may describe them."""
    spelled = re.compile(r"""(["'](valid-data|quarantine-data|dq-reports)/|/ds=\{|["']ds=|["']report\.json["'])""")
    offenders = []
    sources = [*(REPO / "python" / "marketing_core").rglob("*.py"), *(REPO / "airflow_dags").glob("*.py")]
    for path in sources:
        if path.name == "layout.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if spelled.search(code) and not code.strip().startswith(("``", "`", "-", "*")):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
