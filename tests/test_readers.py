"""The readers account for every row: line ends, unclosed quotes, JSON arrays, duplicated
columns, exact casts (the same value, the same verdict from every input path) and the exact
bytes of unparsed records."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq

import marketing_core as mc

DS = "2025-05-25"
HEADER = "contact_id,first_name,last_name,email,company,industry,lead_source,job_title,country,opted_in,signup_date"
ROW = "123e4567-e89b-12d3-a456-426614174000,Ann,Lee,ann.lee1@acme.com,Acme,Retail,Web,CTO,France,true,2025-05-25 10:00:00"


def rows(n: int) -> list[str]:
    return [ROW.replace("123e4567", f"{0x10000000 + i:08x}") for i in range(n)]


def test_a_csv_macintosh_file_reads_every_row(tmp_path):
    # Excel's "CSV (Macintosh)": lone CR line ends; line 4 is ragged.
    lines = [HEADER, *rows(2), "only,three,fields", *rows(5)[2:]]
    p = tmp_path / f"contacts_{DS}.csv"
    p.write_bytes("\r".join(lines).encode() + b"\r")
    report = mc.validate(p, return_tables=True)
    assert (report.rows_in, report.rows_valid, report.rows_invalid) == (6, 5, 1)
    assert report.quarantine_table.column("_source_line").to_pylist() == [4]


def test_a_header_only_file_without_a_required_column_fails(tmp_path):
    p = tmp_path / f"contacts_{DS}.csv"
    p.write_text(HEADER.replace(",email", "") + "\n")
    report = mc.validate(p)
    missing = report.check("schema:email")
    assert missing.status == "failed" and missing.file_level
    assert report.status == "failed"


def test_an_unclosed_quote_costs_one_line_not_the_file(tmp_path):
    lines = rows(2000)
    lines[9] = lines[9].replace(",Ann,", ',"Ann,', 1)
    p = tmp_path / f"contacts_{DS}.csv"
    p.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    report = mc.validate(p, return_tables=True)
    assert (report.rows_in, report.rows_valid, report.rows_invalid) == (2000, 1999, 1)
    q = report.quarantine_table.to_pylist()
    assert q[0]["_source_line"] == 11
    assert q[0]["_error"].startswith("unterminated quote: field 2 opens a quote on this line")


def test_a_json_array_of_records_is_read_record_by_record(tmp_path):
    p = tmp_path / f"contacts_{DS}.json"
    records = [dict(zip(HEADER.split(","), r.split(","))) for r in rows(3)]
    for r in records:
        r["opted_in"] = True
    p.write_text(json.dumps(records, indent=2))
    report = mc.validate(p, return_tables=True)
    assert (report.rows_in, report.rows_valid, report.rows_invalid) == (3, 3, 0), report.failed_checks
    assert report.valid_table.column("contact_id").to_pylist() == [r["contact_id"] for r in records]


def test_a_duplicated_column_is_a_file_level_failure_in_csv_and_parquet(tmp_path):
    csv = tmp_path / f"contacts_{DS}.csv"
    csv.write_text(HEADER + ",email\n" + "\n".join(r + ",other@x.io" for r in rows(2)) + "\n")
    t = pa.table({n: [v, v] for n, v in zip(HEADER.split(","), ROW.split(","))})
    t = pa.Table.from_arrays([*t.columns, t.column("email")], names=[*t.column_names, "email"])
    parquet = tmp_path / f"contacts_{DS}.parquet"
    pq.write_table(t, parquet)
    for p in (csv, parquet):
        report = mc.validate(p, return_tables=True)
        dup = [c for c in report.checks if c.rule == "duplicate"]
        assert [(c.column, c.status, c.file_level) for c in dup] == [("email", "failed", True)], p
        assert "appears 2 times (columns 4, 12)" in dup[0].message
        assert report.rows_in == report.rows_valid + report.rows_invalid == 2
        assert not [c for c in report.checks if c.rule == "order"], p


def test_the_exact_bytes_of_an_unparsed_record_round_trip_through_the_quarantine(tmp_path):
    bad = b"323e4567-e89b-12d3-a456-426614174000,Bo\xff\xfe,Lee"
    p = tmp_path / f"contacts_{DS}.csv"
    p.write_bytes(HEADER.encode() + b"\n" + bad + b"\r\n")
    out = tmp_path / "q.parquet"
    mc.validate(p, quarantine_out=out, output_format="parquet")
    q = pq.read_table(out).to_pylist()
    assert base64.b64decode(q[0]["_raw_base64"]) == bad
    assert "\ufffd" in q[0]["_raw"]


# --- one set of tricky values through CSV, JSON Lines, Parquet and an Arrow table ---------

UTC2 = dt.timezone(dt.timedelta(hours=2))
# column: (contract type, arrow type, values, expected verdict per value: True = passes type)
TRICKY = {
    "int_from_float": ("int64", pa.float64(), [1.9, 2.5, 7.99, 1.0, -0.0, 1000.0, 2.0**62, 1e19],
                       [False, False, False, True, True, True, True, False]),
    "int_from_int": ("int64", pa.int64(), [2**53 + 1, 2**62, -(2**63), 0, 1, -1, 7, 2**63 - 1],
                     [True] * 8),
    "bool_from_int": ("bool", pa.int64(), [0, 1, 2, -1, 2**62, 2**53 + 1, 1, 0],
                      [True, True, False, False, False, False, True, True]),
    "bool_from_float": ("bool", pa.float64(), [0.0, 1.0, 2.0, -0.0, 0.5, 1e3, 1.0, 0.0], [False] * 8),
    "bool_from_bool": ("bool", pa.bool_(), [True, False] * 4, [True] * 8),
    "bool_from_text": ("bool", pa.string(), ["true", "TRUE", "True", "false", "yes", "t", "1.0", "0"],
                       [True, True, True, True, False, False, False, True]),
    "int_from_text": ("int64", pa.string(), ["1e3", "1.0", "-0", "9007199254740993", "1.5", "0x10", "1e19", " 1"],
                      [True, True, True, True, False, False, False, False]),
    "ts_from_ts": ("timestamp", pa.timestamp("us", tz="UTC"),
                   [dt.datetime(2025, 5, 25, 10, tzinfo=UTC2), dt.datetime(2025, 5, 25, 0, 0, 0, 500000, tzinfo=dt.timezone.utc)] * 4,
                   [True] * 8),
    "ts_from_text": ("timestamp", pa.string(),
                     ["2025-05-25T10:00:00+02:00", "2025-05-25 10:00:00Z", "2025-05-25", "2025-05-25T10:00:00.1234567",
                      "2025-05-25T25:00:00", "2025-05-25T10:00:00-0530", "2025-05-25T10:00:00.123456789+00:00", "yesterday"],
                     [True, True, True, False, False, True, False, False]),
    "date_from_date": ("date", pa.date32(), [dt.date(2025, 5, 25), dt.date(1970, 1, 1)] * 4, [True] * 8),
    "date_from_ts": ("date", pa.timestamp("us", tz="UTC"), [dt.datetime(2025, 5, 25, tzinfo=dt.timezone.utc)] * 8, [False] * 8),
}


def spelled(v) -> str:
    """The value as a CSV writer spells it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def as_json(v):
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def verdicts(report) -> dict[str, list[bool]]:
    q = report.quarantine_table.to_pylist()
    failed = {r["_source_row"]: set(r["_failed_checks"].split(";")) for r in q}
    return {c: [f"type:{c}" not in failed.get(i, set()) for i in range(8)] for c in TRICKY}


def test_the_same_value_gets_the_same_verdict_from_every_path(tmp_path):
    contract = {
        "dataset": "tricky",
        "version": 1,
        "columns": [{"name": c, "type": ty, "required": False} for c, (ty, *_) in TRICKY.items()],
    }
    table = pa.table({c: pa.array(values, type=at) for c, (_, at, values, _) in TRICKY.items()})
    csv = tmp_path / "tricky.csv"
    csv.write_text(",".join(TRICKY) + "\n" + "".join(
        ",".join(spelled(v[2][i]) for v in TRICKY.values()) + "\n" for i in range(8)))
    jsonl = tmp_path / "tricky.json"
    jsonl.write_text("".join(json.dumps({c: as_json(v[2][i]) for c, v in TRICKY.items()}) + "\n" for i in range(8)))
    parquet = tmp_path / "tricky.parquet"
    pq.write_table(table, parquet)
    expected = {c: v[3] for c, v in TRICKY.items()}
    paths = {
        "arrow": mc.validate_table(table, contract=contract),
        "parquet": mc.validate(parquet, contract=contract, return_tables=True),
        "csv": mc.validate(csv, contract=contract, return_tables=True),
        "json": mc.validate(jsonl, contract=contract, return_tables=True),
    }
    for name, report in paths.items():
        assert report.rows_in == 8 and not [c for c in report.checks if c.check in ("parse", "schema")
                                            and c.status != "passed"], (name, report.failed_checks)
        assert verdicts(report) == expected, name
