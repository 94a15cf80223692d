"""A CSV or JSON Lines input validated into the same format: the valid file is the valid
lines' bytes as they were read (the header once, `\\n` line ends, no BOM), and every reader
the pipeline uses reads it with the contract's types."""

from __future__ import annotations

import datetime as dt
import pathlib

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

import marketing_core as mc
from conftest import DS

FACTS = ("contacts", "form_fills", "website_activity")
# The contract's columns in order (from the domain; no second spelling of the list).
HEADER = ",".join(mc.load_contract(dataset="contacts").columns)
ROW = "123e4567-e89b-12d3-a456-426614174000,Ann,Lee,ann.lee1@acme.com,Acme,Retail,Web,CTO,France,true,2025-05-25 10:00:00"


def without_lines(data: bytes, dropped: set[int], header: bool) -> bytes:
    """The input's `\\n`-ended lines minus the dropped (1-based) line numbers."""
    kept = [line for no, line in enumerate(data.split(b"\n"), start=1)
            if line and (no not in dropped or (header and no == 1))]
    return b"".join(line + b"\n" for line in kept)


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("kind", mc.DEFECT_KINDS)
def test_the_valid_file_is_the_inputs_valid_lines(tmp_path, fmt, kind):
    day = mc.generate_day(DS, tmp_path / "in", scale_factor=0.02, formats={d: fmt for d in FACTS},
                          defects={kind: 0.03})
    checked = 0
    for name in FACTS:
        path = pathlib.Path(day[name].path)
        out = tmp_path / name
        report = mc.validate(path, valid_out=out / f"valid.{fmt}", quarantine_out=out / "quarantine.parquet")
        if report.rows_invalid == 0:
            continue  # this kind does not apply to this dataset
        checked += 1
        dropped = set(pq.read_table(out / "quarantine.parquet").column("_source_line").to_pylist())
        assert (out / f"valid.{fmt}").read_bytes() == without_lines(path.read_bytes(), dropped, fmt == "csv")
    assert checked, f"{kind} applies to some fact dataset"


def contacts_types() -> dict[str, str]:
    return {c["name"]: c["type"] for c in mc.load_contract(dataset="contacts").spec["columns"]}


def test_a_malformed_csv_copy_reads_with_the_contracts_types_everywhere(tmp_path):
    # Enough plain rows that the two to respell are written one by one.
    rows = [ROW.replace("123e4567", f"{i:02}3e4567") for i in range(1, 13)]
    rows[1] = rows[1].replace(",Acme,", ',"Acme\r\nInc, ""the"" best",')  # a value with a line end
    rows[2] = rows[2].replace(",true,", ",TRUE,")  # respelled: true
    rows[3] = rows[3].replace(",Ann,", ',"Ann,')  # an unclosed quote: quarantined
    rows[4] = rows[4].replace("2025-05-25 10:00:00", "2025-05-25T12:00:00+02:00")  # respelled
    data = ("\ufeff" + HEADER + "\r\n" + "\r\n".join(rows) + "\r\n\r\n").encode()
    path = tmp_path / f"contacts_{DS}.csv"
    path.write_bytes(data)
    valid = tmp_path / "valid.csv"
    report = mc.validate(path, ds=DS, valid_out=valid, references={})
    assert (report.rows_valid, report.rows_invalid) == (11, 1)
    expected = [rows[0], rows[1], rows[2].replace(",TRUE,", ",true,"),
                rows[4].replace("2025-05-25T12:00:00+02:00", "2025-05-25 10:00:00"), *rows[5:]]
    assert valid.read_bytes() == (HEADER + "\n" + "\n".join(expected) + "\n").encode()

    types = contacts_types()
    polars_types = {"string": pl.String, "bool": pl.Boolean, "timestamp": pl.Datetime("us")}
    by_polars = pl.read_csv(valid, schema={n: polars_types[t] for n, t in types.items()})
    assert by_polars["company"][1] == 'Acme\r\nInc, "the" best'
    assert by_polars["opted_in"].to_list() == [True] * 11
    assert by_polars["signup_date"].to_list() == [dt.datetime(2025, 5, 25, 10)] * 11
    duck_types = {"string": "VARCHAR", "bool": "BOOLEAN", "timestamp": "TIMESTAMP"}
    columns = ", ".join(f"'{n}': '{duck_types[t]}'" for n, t in types.items())
    got = duckdb.sql(f"select count(*), count(distinct signup_date) from read_csv('{valid}', header=true, "
                     f"columns={{{columns}}})").fetchone()
    assert got == (11, 1)


def test_a_json_lines_copy_reads_with_the_contracts_types(tmp_path):
    import json

    record = dict(zip(HEADER.split(","), ROW.split(",")))
    record["opted_in"] = True
    record["signup_date"] = "2025-05-25T10:00:00"
    lines = []
    for i in range(1, 6):
        r = {**record, "contact_id": f"{i}23e4567-e89b-12d3-a456-426614174000"}
        lines.append(json.dumps(dict(reversed(list(r.items())))))  # keys in another order
    lines[2] = lines[2].replace('"opted_in": true', '"opted_in": 1')  # respelled: true
    path = tmp_path / f"contacts_{DS}.json"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    valid = tmp_path / "valid.json"
    report = mc.validate(path, ds=DS, valid_out=valid, references={})
    assert report.rows_valid == 5
    out = valid.read_text().splitlines()
    assert out[:2] == lines[:2] and out[3:] == lines[3:]
    assert json.loads(out[2])["opted_in"] is True
    frame = pl.read_ndjson(valid, schema={"opted_in": pl.Boolean, "signup_date": pl.String, "contact_id": pl.String})
    assert frame["opted_in"].to_list() == [True] * 5


def chunk_bytes(path: pathlib.Path) -> list[list[bytes]]:
    """Each row group's column chunks, as their encoded bytes."""
    data = path.read_bytes()
    meta = pq.ParquetFile(path).metadata
    groups = []
    for g in range(meta.num_row_groups):
        columns = []
        for c in range(meta.num_columns):
            col = meta.row_group(g).column(c)
            start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
            columns.append(data[start:start + col.total_compressed_size])
        groups.append(columns)
    return groups


def test_a_parquet_valid_file_copies_the_clean_row_groups(tmp_path):
    made = mc.generate("contacts", DS, tmp_path / "gen", scale_factor=0.05, format="parquet",
                       defects={"bad_email": 0.004})
    table = pq.read_table(made.path)
    # Written by pyarrow, in row groups of 100 rows: most hold no bad row.
    path = tmp_path / f"contacts_{DS}.parquet"
    pq.write_table(table, path, row_group_size=100)
    valid = tmp_path / "valid.parquet"
    report = mc.validate(path, ds=DS, valid_out=valid, quarantine_out=tmp_path / "q.parquet", references={})
    bad = set(pq.read_table(tmp_path / "q.parquet").column("_source_row").to_pylist())
    assert report.rows_invalid == len(bad) > 0
    keep = [i for i in range(table.num_rows) if i not in bad]
    assert pq.read_table(valid).equals(table.take(keep))
    written = chunk_bytes(valid)
    groups = chunk_bytes(path)
    clean = [g for g in range(len(groups)) if not any(r // 100 == g for r in bad)]
    assert 0 < len(clean) < len(groups)
    assert all(groups[g] in written for g in clean)
