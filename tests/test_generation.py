"""The generator through the public Python API: files, schemas, sizes, integrity,
determinism, idempotence, fault injection and errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import marketing_core as mc
from conftest import DS, read_file

EXPECTED_COLUMNS = {
    "campaigns": ["campaign_id", "campaign_name"],
    "forms": ["form_id", "form_type"],
    "pages": ["page_id", "page_url", "page_title"],
    "contacts": [
        "contact_id", "first_name", "last_name", "email", "company", "industry",
        "lead_source", "job_title", "country", "opted_in", "signup_date",
    ],
    "form_fills": [
        "fill_id", "form_id", "contact_id", "campaign_id", "fill_date", "referrer_url",
        "user_agent", "estimated_value",
    ],
    "website_activity": [
        "session_id", "contact_id", "campaign_id", "page_id", "page_url", "page_title",
        "event_date", "event_type", "session_duration", "pages_viewed", "bounce",
        "referrer_domain",
    ],
}
EXPECTED_FILES = {
    "campaigns": f"campaigns_{DS}.json",
    "forms": f"forms_{DS}.json",
    "pages": f"pages_{DS}.json",
    "contacts": f"contacts_{DS}.csv",
    "form_fills": f"form_fills_{DS}.parquet",
    "website_activity": f"website_activity_{DS}.json",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def sha256(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def frame(result) -> pl.DataFrame:
    df = pl.from_arrow(read_file(result.path))
    # pyarrow's JSON reader infers ISO dates as timestamps.
    dates = [c for c in ("fill_date", "event_date") if c in df.columns]
    return df.with_columns(pl.col(c).cast(pl.Date) for c in dates)


def test_files_names_columns_and_types(small_day):
    assert [r.dataset for r in small_day] == list(mc.DATASETS)
    for r in small_day:
        assert os.path.basename(r.path) == EXPECTED_FILES[r.dataset]
        table = read_file(r.path)
        assert table.column_names == EXPECTED_COLUMNS[r.dataset]
        assert table.num_rows == r.rows
    fills = read_file(small_day["form_fills"].path).schema
    assert fills.field("fill_date").type == pa.date32()
    assert fills.field("estimated_value").type == pa.float64()
    contacts = read_file(small_day["contacts"].path).schema
    assert pa.types.is_timestamp(contacts.field("signup_date").type)
    assert contacts.field("opted_in").type == pa.bool_()


@pytest.mark.parametrize("scale", [0.01, 0.05, 0.3])
def test_row_counts_follow_the_scale(scale):
    for dataset, base in [("contacts", 100_000), ("form_fills", 50_000), ("website_activity", 500_000)]:
        assert mc.generate_table(dataset, DS, scale_factor=scale).num_rows == round(base * scale)
    assert mc.generate_table("campaigns", DS, scale_factor=scale).num_rows == 20
    assert mc.generate_table("forms", DS, scale_factor=scale).num_rows == 8
    assert mc.generate_table("pages", DS, scale_factor=scale).num_rows == 30


def test_referential_integrity_and_values(small_day):
    contacts, fills, web = (frame(small_day[d]) for d in ("contacts", "form_fills", "website_activity"))
    campaigns, forms, pages = (frame(small_day[d]) for d in ("campaigns", "forms", "pages"))
    assert contacts["contact_id"].is_unique().all() and contacts["email"].is_unique().all()
    assert all(UUID.match(v) for v in contacts["contact_id"])
    assert all(EMAIL.match(v) for v in contacts["email"])
    for df, col, dim, key in [
        (fills, "contact_id", contacts, "contact_id"),
        (fills, "form_id", forms, "form_id"),
        (fills, "campaign_id", campaigns, "campaign_id"),
        (web, "contact_id", contacts, "contact_id"),
        (web, "campaign_id", campaigns, "campaign_id"),
        (web, "page_id", pages, "page_id"),
    ]:
        assert df[col].is_in(dim[key].implode()).all(), col
    # page_url/page_title are copied from pages.
    joined = web.join(pages, on="page_id", suffix="_dim")
    assert (joined["page_url"] == joined["page_url_dim"]).all()
    assert (joined["page_title"] == joined["page_title_dim"]).all()
    day = dt.date(2025, 5, 25)
    assert (contacts["signup_date"].dt.date() == day).all()
    assert (fills["fill_date"] == day).all() and (web["event_date"] == day).all()
    assert fills["estimated_value"].is_between(100, 10_000).all()
    assert (fills["estimated_value"].round(2) == fills["estimated_value"]).all()
    assert fills["estimated_value"].median() < fills["estimated_value"].mean(), "skewed low"
    assert (web["bounce"] == (web["pages_viewed"] == 1)).all()
    assert (web["session_duration"] >= 0).all() and (web["pages_viewed"] >= 1).all()
    assert set(contacts["industry"]) == {"Technology", "Finance", "Healthcare", "Education", "Retail"}
    assert set(contacts["lead_source"]) == {"Web", "Email", "Event", "Referral", "Organic Search", "Paid Social"}
    assert set(web["event_type"]) == {"page_view", "form_submit", "click", "download", "video_play"}
    assert len(set(forms["form_type"])) == 8


def test_foreign_keys_are_skewed_70_20_10(small_day):
    web = frame(small_day["website_activity"])
    fills = frame(small_day["form_fills"])
    for refs, universe in [(web["campaign_id"], 20), (fills["campaign_id"], 20), (fills["form_id"], 8)]:
        ranks = refs.str.extract(r"-(\d+)$").cast(pl.Int64) - 1
        hot = round(universe * 0.2)
        warm = round(universe * 0.5)
        share_hot = (ranks < hot).mean()
        share_warm = ((ranks >= hot) & (ranks < warm)).mean()
        assert abs(share_hot - 0.7) < 0.03, share_hot
        assert abs(share_warm - 0.2) < 0.03, share_warm


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a = mc.generate_day(DS, tmp_path / "a", scale_factor=0.02, seed=1)
    b = mc.generate_day(DS, tmp_path / "b", scale_factor=0.02, seed=1)
    c = mc.generate_day(DS, tmp_path / "c", scale_factor=0.02, seed=2)
    for x, y, z in zip(a, b, c):
        assert sha256(x.path) == sha256(y.path)
        if not x.dataset in ("campaigns", "forms", "pages"):
            assert sha256(x.path) != sha256(z.path)


def test_files_identical_across_thread_counts(tmp_path):
    script = (
        "import sys, marketing_core as mc; "
        "mc.generate_day('2025-05-25', sys.argv[1], scale_factor=0.4, seed=3, "
        "defects={'duplicate_key': 0.01, 'stale_date': 0.01})"
    )
    digests = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}"
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True)
        files = sorted(p for p in out.iterdir() if p.is_file())
        digests.append({p.name: sha256(str(p)) for p in files})
    assert len(digests[0]) == 6 and digests[0] == digests[1]


def test_generate_table_matches_the_written_file(small_day):
    for dataset in ("contacts", "form_fills", "website_activity"):
        in_memory = mc.generate_table(dataset, DS, scale_factor=0.05, seed=7)
        assert isinstance(in_memory, pa.Table)
        from_file = pl.from_arrow(read_file(small_day[dataset].path))
        as_polars = pl.from_arrow(in_memory)
        if dataset == "contacts":  # CSV stores whole seconds without a unit
            as_polars = as_polars.with_columns(pl.col("signup_date").dt.cast_time_unit("us"))
            from_file = from_file.with_columns(pl.col("signup_date").dt.cast_time_unit("us"))
        assert as_polars.equals(from_file), dataset
        assert pa.table(in_memory).num_rows == in_memory.num_rows


def test_rerun_is_skipped_unless_forced_or_changed(tmp_path):
    first = mc.generate("contacts", DS, tmp_path, scale_factor=0.01)
    mtime = os.stat(first.path).st_mtime_ns
    again = mc.generate("contacts", dt.date(2025, 5, 25), tmp_path, scale_factor=0.01)
    assert again.skipped and not first.skipped
    assert (again.rows, again.bytes) == (first.rows, first.bytes)
    assert os.stat(first.path).st_mtime_ns == mtime
    assert not mc.generate("contacts", DS, tmp_path, scale_factor=0.01, force=True).skipped
    assert not mc.generate("contacts", DS, tmp_path, scale_factor=0.02).skipped
    assert not mc.generate("contacts", DS, tmp_path, scale_factor=0.02, defects={"bad_email": 0.1}).skipped
    assert mc.generate("contacts", DS, tmp_path, scale_factor=0.02, defects={"bad_email": 0.1}).skipped
    # A different format is a different file.
    parquet = mc.generate("contacts", DS, tmp_path, scale_factor=0.02, format="parquet")
    assert parquet.path.endswith(".parquet") and not parquet.skipped


def test_other_formats_round_trip(tmp_path):
    tables = []
    for fmt in ("csv", "json", "parquet"):
        r = mc.generate("form_fills", DS, tmp_path, scale_factor=0.01, format=fmt)
        assert r.path.endswith("." + fmt) and r.format == fmt
        tables.append(pl.from_arrow(read_file(r.path)))
    assert tables[0]["fill_id"].to_list() == tables[1]["fill_id"].to_list() == tables[2]["fill_id"].to_list()
    assert tables[0]["estimated_value"].to_list() == tables[2]["estimated_value"].to_list()


ALL_DEFECTS = {
    "null_key": 0.01,
    "duplicate_key": 0.01,
    "bad_email": 0.02,
    "stale_date": 0.01,
    "orphan_foreign_key": 0.02,
    "out_of_range": 0.01,
    "inconsistent_bounce": 0.01,
}


@pytest.fixture(scope="module")
def defective_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("defects")
    return mc.generate_day(DS, out, scale_factor=0.05, seed=11, defects=ALL_DEFECTS)


def manifest_rows(result, kind, column=None):
    manifest = json.load(open(result.defects_path))
    return {
        d["row"]
        for d in manifest["defects"]
        if d["kind"] == kind and (column is None or d["column"] == column)
    }, manifest


def test_manifest_matches_the_data(defective_day):
    contacts_r, fills_r, web_r = (defective_day[d] for d in ("contacts", "form_fills", "website_activity"))
    contacts, fills, web = frame(contacts_r), frame(fills_r), frame(web_r)
    for r in (contacts_r, fills_r, web_r):
        _, manifest = manifest_rows(r, "null_key")
        assert manifest["rows"] == r.rows and manifest["file"] == os.path.basename(r.path)
        assert sum(manifest["counts"].values()) == len(manifest["defects"])
        assert manifest["counts"] == r.defect_counts
    assert defective_day["campaigns"].defects_path is None  # dimensions stay clean

    def rows_where(df, mask):
        return set(df.with_row_index().filter(mask)["index"].to_list())

    # Null and duplicate keys, every copy of a duplicate.
    for df, r, key in [(contacts, contacts_r, "contact_id"), (fills, fills_r, "fill_id"), (web, web_r, "session_id")]:
        assert rows_where(df, pl.col(key).is_null()) == manifest_rows(r, "null_key")[0]
        manifest = json.load(open(r.defects_path))
        dup_rows = {d["row"] for d in manifest["defects"] if d["kind"] == "duplicate_key"}
        dup_rows |= {d["partner_row"] for d in manifest["defects"] if d["kind"] == "duplicate_key"}
        assert rows_where(df, pl.col(key).is_not_null() & pl.col(key).is_duplicated()) == dup_rows
    # Bad emails fail the spec's pattern; every other email passes it.
    bad = {i for i, e in enumerate(contacts["email"]) if not EMAIL.match(e)}
    assert bad == manifest_rows(contacts_r, "bad_email")[0] and bad
    # Stale dates.
    day = dt.date(2025, 5, 25)
    assert rows_where(contacts, pl.col("signup_date").dt.date() != day) == manifest_rows(contacts_r, "stale_date")[0]
    assert rows_where(fills, pl.col("fill_date") != day) == manifest_rows(fills_r, "stale_date")[0]
    assert rows_where(web, pl.col("event_date") != day) == manifest_rows(web_r, "stale_date")[0]
    # Orphan foreign keys, per column.
    dims = {d: frame(defective_day[d]) for d in ("campaigns", "forms", "pages")}
    universes = {
        "contact_id": contacts["contact_id"].drop_nulls(),
        "campaign_id": dims["campaigns"]["campaign_id"],
        "form_id": dims["forms"]["form_id"],
        "page_id": dims["pages"]["page_id"],
    }
    for df, r, cols in [(fills, fills_r, ["form_id", "contact_id", "campaign_id"]), (web, web_r, ["contact_id", "campaign_id", "page_id"])]:
        for col in cols:
            orphans = rows_where(df, ~pl.col(col).is_in(universes[col].implode()))
            assert orphans == manifest_rows(r, "orphan_foreign_key", col)[0], col
    # Facts never reference a contact row that carries a defect (those may be quarantined).
    clean_contacts = contacts.with_row_index().filter(
        ~pl.col("index").is_in(list(json_rows(contacts_r) | partner_rows(contacts_r)))
    )["contact_id"]
    referenced = pl.concat([fills["contact_id"], web["contact_id"]]).filter(
        pl.concat([fills["contact_id"], web["contact_id"]]).is_in(contacts["contact_id"].drop_nulls().implode())
    )
    assert referenced.is_in(clean_contacts.implode()).all()
    # Out of range and inconsistent bounce.
    assert rows_where(fills, ~pl.col("estimated_value").is_between(100, 10_000)) == manifest_rows(fills_r, "out_of_range")[0]
    assert rows_where(web, pl.col("session_duration") < 0) == manifest_rows(web_r, "out_of_range", "session_duration")[0]
    assert rows_where(web, pl.col("pages_viewed") < 1) == manifest_rows(web_r, "out_of_range", "pages_viewed")[0]
    assert rows_where(web, pl.col("bounce") != (pl.col("pages_viewed") == 1)) == manifest_rows(web_r, "inconsistent_bounce")[0]


def json_rows(result) -> set[int]:
    return {d["row"] for d in json.load(open(result.defects_path))["defects"]}


def partner_rows(result) -> set[int]:
    return {d["partner_row"] for d in json.load(open(result.defects_path))["defects"] if "partner_row" in d}


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**64 - 1), scale=st.floats(min_value=0.001, max_value=0.02))
def test_clean_data_obeys_the_rules_for_any_seed_and_scale(seed, scale):
    contacts = pl.from_arrow(mc.generate_table("contacts", DS, scale_factor=scale, seed=seed))
    web = pl.from_arrow(mc.generate_table("website_activity", DS, scale_factor=scale, seed=seed))
    assert contacts.null_count().sum_horizontal().item() == 0
    assert contacts["contact_id"].is_unique().all() and contacts["email"].is_unique().all()
    assert all(EMAIL.match(e) for e in contacts["email"])
    assert web["contact_id"].is_in(contacts["contact_id"].implode()).all()
    assert web["session_id"].is_unique().all()
    assert (web["bounce"] == (web["pages_viewed"] == 1)).all()


@pytest.mark.parametrize(
    "call, exc, text",
    [
        (lambda d: mc.generate("leads", DS, d), mc.InvalidArgumentError, "unknown dataset \"leads\""),
        (lambda d: mc.generate("contacts", "2025-02-30", d), mc.InvalidArgumentError, "invalid ds \"2025-02-30\""),
        (lambda d: mc.generate("contacts", DS, d, scale_factor=0), mc.InvalidArgumentError, "scale_factor must be"),
        (lambda d: mc.generate("contacts", DS, d, scale_factor=-2), mc.InvalidArgumentError, "got -2"),
        (lambda d: mc.generate("contacts", DS, d, format="xlsx"), mc.InvalidArgumentError, "unknown format \"xlsx\""),
        (lambda d: mc.generate("contacts", DS, d, defects={"typo": 0.1}), mc.InvalidArgumentError, "unknown defect kind \"typo\""),
        (lambda d: mc.generate("contacts", DS, d, defects={"null_key": 2}), mc.InvalidArgumentError, "must be in [0, 1]"),
        (lambda d: mc.generate_day(DS, d, datasets=["leads"]), mc.InvalidArgumentError, "unknown dataset 'leads'"),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, call, exc, text):
    with pytest.raises(exc) as info:
        call(tmp_path)
    assert text in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unwritable_directory_names_the_path(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(mc.FileError) as info:
        mc.generate("contacts", DS, blocker / "out", scale_factor=0.01)
    assert str(blocker / "out") in str(info.value)
    assert isinstance(info.value, OSError)


def test_progress_reports_and_a_raising_callback_cancels_cleanly(tmp_path):
    seen = []
    mc.generate("website_activity", DS, tmp_path, scale_factor=0.5, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (250_000, 250_000) and len(seen) >= 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop("enough")

    with pytest.raises(Stop):
        mc.generate("contacts", DS, tmp_path / "x", scale_factor=1.0, progress=stop)
    assert not any(p.suffix == ".csv" for p in (tmp_path / "x").iterdir()), "no partial file left"
