"""Validation benchmark: marketing_core vs pandas vs polars on the same checks.

Validates `contacts` against the shipped contract (contacts.json): every column present
and not null, values castable (opted_in bool, signup_date timestamp), contact_id unique (every
copy of a duplicate) and a UUID, the email pattern, industry and lead_source among their
accepted values, signup_date on ds (freshness). Valid and quarantined rows are written in
the output format of each task:

    csv -> csv            the input's format (marketing_core copies the valid lines)
    parquet -> parquet    the input's format
    csv -> parquet        another format (every contender encodes)

each on a day with ~1.4% defects and on a clean day (0%). Each contender runs in its own
subprocess so its peak RSS (ru_maxrss) is its own; Parquet is Snappy-compressed for all.
Inputs are read once first so every contender finds them in the page cache; each contender
runs `--repeat` times, interleaved, and its best time counts.

A second table is the floor under any such pipeline: pyarrow and polars only reading the
input and writing it back as Snappy Parquet, no checks at all.

    python bench/bench_validate.py                        # 5,000,000 rows
    python bench/bench_validate.py --rows 1000000         # a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

DS = "2025-05-25"
COLUMNS = ["contact_id", "first_name", "last_name", "email", "company", "industry", "lead_source",
           "job_title", "country", "opted_in", "signup_date"]
DEFECTS = {"null_key": 0.001, "duplicate_key": 0.001, "bad_email": 0.01, "stale_date": 0.002}
# (input, output) formats.
TASKS = [("csv", "csv"), ("parquet", "parquet"), ("csv", "parquet")]
# Every contender writes Parquet with the codec marketing_core uses (polars' default is zstd).
CODEC = "snappy"


def shipped_contract() -> dict:
    import marketing_core as mc

    return dict(mc.load_contract(dataset="contacts").spec)


# The core's own spellings (src/validate/patterns.rs).
EMAIL = (r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
         r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$")
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def accepted(name: str) -> list[str]:
    return next(c["accepted_values"] for c in shipped_contract()["columns"] if c["name"] == name)


# --- contenders (each runs in a fresh process) ----------------------------------------------

def run_marketing_core(path: str, out: str, fmt: str) -> tuple[int, int]:
    import marketing_core as mc

    r = mc.validate(path, ds=DS, references={},
                    valid_out=f"{out}/valid.{fmt}", quarantine_out=f"{out}/quarantine.{fmt}")
    return r.rows_valid, r.rows_invalid


def run_pandas(path: str, out: str, fmt: str) -> tuple[int, int]:
    import numpy as np
    import pandas as pd

    if path.endswith(".csv"):
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    else:
        df = pd.read_parquet(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    assert not missing, missing
    df = df[COLUMNS]
    checks: dict[str, pd.Series] = {}
    # Schema: cast, an uncastable value is a failure.
    is_text = pd.api.types.is_string_dtype
    signup = pd.to_datetime(df["signup_date"], errors="coerce", format="ISO8601") if is_text(df["signup_date"]) else df["signup_date"]
    checks["type:signup_date"] = signup.isna() & df["signup_date"].notna()
    if is_text(df["opted_in"]):
        opted = df["opted_in"].map({"true": True, "false": False, "True": True, "False": False,
                                    "TRUE": True, "FALSE": False, "1": True, "0": False})
        checks["type:opted_in"] = opted.isna() & df["opted_in"].notna()
    for c in COLUMNS:
        checks[f"not_null:{c}"] = df[c].isna()
    key = df["contact_id"]
    checks["unique:contact_id"] = key.str.lower().duplicated(keep=False) & key.notna()
    checks["pattern:contact_id"] = ~key.str.match(UUID).fillna(True).astype(bool)
    checks["pattern:email"] = ~df["email"].str.match(EMAIL).fillna(True).astype(bool)
    for c in ("industry", "lead_source"):
        checks[f"accepted_values:{c}"] = ~df[c].isin(accepted(c)) & df[c].notna()
    day = pd.Timestamp(DS)
    checks["freshness:signup_date"] = signup.notna() & (signup.dt.normalize() != day)
    invalid = np.zeros(len(df), dtype=bool)
    for s in checks.values():
        invalid |= s.to_numpy()
    labels = pd.Series("", index=df.index)
    for name, s in checks.items():
        m = s.to_numpy() & invalid
        labels[m] = labels[m] + ";" + name
    valid = df[~invalid]
    quarantine = df[invalid].astype(str).assign(_failed_checks=labels[invalid].str.lstrip(";"),
                                                _source_row=np.flatnonzero(invalid))
    if fmt == "csv":
        valid.to_csv(f"{out}/valid.csv", index=False)
        quarantine.to_csv(f"{out}/quarantine.csv", index=False)
    else:
        valid.to_parquet(f"{out}/valid.parquet", index=False, compression=CODEC)
        quarantine.to_parquet(f"{out}/quarantine.parquet", index=False, compression=CODEC)
    return len(valid), len(quarantine)


def run_polars(path: str, out: str, fmt: str) -> tuple[int, int]:
    import polars as pl

    if path.endswith(".csv"):
        df = pl.read_csv(path, infer_schema=False)
    else:
        df = pl.read_parquet(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    assert not missing, missing
    df = df.select(COLUMNS).with_row_index("_source_row")
    if df.schema["signup_date"] == pl.String:
        signup = pl.col("signup_date").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
    else:
        signup = pl.col("signup_date")
    key = pl.col("contact_id")
    checks = {
        "type:signup_date": signup.is_null() & pl.col("signup_date").is_not_null(),
        **{f"not_null:{c}": pl.col(c).is_null() for c in COLUMNS},
        "unique:contact_id": key.str.to_lowercase().is_duplicated() & key.is_not_null(),
        "pattern:contact_id": ~key.str.contains(UUID).fill_null(True),
        "pattern:email": ~pl.col("email").str.contains(EMAIL).fill_null(True),
        **{f"accepted_values:{c}": ~pl.col(c).is_in(accepted(c)) & pl.col(c).is_not_null()
           for c in ("industry", "lead_source")},
        "freshness:signup_date": signup.is_not_null() & (signup.dt.date() != pl.lit(DS).str.to_date()),
    }
    if df.schema["opted_in"] == pl.String:
        spellings = ["true", "false", "True", "False", "TRUE", "FALSE", "1", "0"]
        checks["type:opted_in"] = ~pl.col("opted_in").is_in(spellings) & pl.col("opted_in").is_not_null()
    flagged = df.with_columns([e.alias(n) for n, e in checks.items()])
    invalid = pl.any_horizontal([pl.col(n) for n in checks])
    labels = pl.concat_str([pl.when(pl.col(n)).then(pl.lit(n)) for n in checks], separator=";", ignore_nulls=True)
    flagged = flagged.with_columns(invalid.alias("_invalid"), labels.alias("_failed_checks"))
    valid = flagged.filter(~pl.col("_invalid")).select(COLUMNS)
    quarantine = flagged.filter(pl.col("_invalid")).select([*COLUMNS, "_failed_checks", "_source_row"])
    if fmt == "csv":
        valid.write_csv(f"{out}/valid.csv")
        quarantine.write_csv(f"{out}/quarantine.csv")
    else:
        valid.write_parquet(f"{out}/valid.parquet", compression=CODEC)
        quarantine.write_parquet(f"{out}/quarantine.parquet", compression=CODEC)
    return valid.height, quarantine.height


def copy_pyarrow(path: str, out: str, fmt: str) -> tuple[int, int]:
    import pyarrow.csv
    import pyarrow.parquet as pq

    table = pyarrow.csv.read_csv(path) if path.endswith(".csv") else pq.read_table(path)
    pq.write_table(table, f"{out}/copy.parquet", compression=CODEC)
    return table.num_rows, 0


def copy_polars(path: str, out: str, fmt: str) -> tuple[int, int]:
    import polars as pl

    df = pl.read_csv(path, infer_schema=False) if path.endswith(".csv") else pl.read_parquet(path)
    df.write_parquet(f"{out}/copy.parquet", compression=CODEC)
    return df.height, 0


CONTENDERS = {"marketing_core": run_marketing_core, "pandas": run_pandas, "polars": run_polars}
# The floor: read + write Parquet only (a second table, for the tasks with Parquet out).
COPIERS = {"pyarrow read+write": copy_pyarrow, "polars read+write": copy_polars}


def worker(name: str, path: str, out: str, fmt: str) -> None:
    t0 = time.perf_counter()
    valid, invalid = {**CONTENDERS, **COPIERS}[name](path, out, fmt)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "valid": valid, "invalid": invalid, "peak_mb": peak_mb}))


def measure(name: str, path: str, fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--input", path, "--out", out,
                               "--format", fmt], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed on {path}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the best counts")
    ap.add_argument("--data", default=os.path.expanduser("~/.cache/marketing_core/bench-validate"))
    ap.add_argument("--skip", action="append", default=[], help="skip a contender (pandas, polars)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--format", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.input, args.out, args.format)
        return

    import marketing_core as mc

    scale = args.rows / 100_000
    inputs: dict[tuple[str, str], str] = {}
    for day, defects in (("1.4%", DEFECTS), ("0%", None)):
        data = pathlib.Path(args.data) / f"rows{args.rows}" / ("defects" if defects else "clean")
        for fmt in ("csv", "parquet"):
            inputs[day, fmt] = mc.generate("contacts", DS, data, scale_factor=scale, format=fmt, defects=defects).path
    for path in inputs.values():  # into the page cache, for every contender alike
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    names = [n for n in CONTENDERS if n not in args.skip]
    copiers = [n for n in COPIERS if n.split()[0] not in args.skip]
    print(f"validate contacts, {args.rows:,} rows, shipped contract (schema, types, not-null, unique + uuid,"
          f" email, accepted values, freshness); valid + quarantine in the output format ({CODEC} Parquet"
          f" for every contender); {os.cpu_count()} cores")
    rows = []
    for day in ("1.4%", "0%"):
        for fin, fout in TASKS:
            path = inputs[day, fin]
            task = [*names, *(copiers if fout == "parquet" else [])]
            results: dict[str, dict] = {}
            for _ in range(args.repeat):
                for n in task:
                    r = measure(n, path, fout)
                    if n not in results or r["seconds"] < results[n]["seconds"]:
                        results[n] = r
            counts = {(results[n]["valid"], results[n]["invalid"]) for n in names}
            assert len(counts) == 1, f"contenders disagree on {fin} -> {fout}, {day}: {results}"
            rows.append((f"{fin} -> {fout}", day, results))
    print(f"{'task':<18} {'defects':>7} " + " ".join(f"{n + ' s':>17} {n + ' MB':>17}" for n in names))
    for task, day, results in rows:
        print(f"{task:<18} {day:>7} " + " ".join(f"{results[n]['seconds']:>17.2f} {results[n]['peak_mb']:>17.0f}" for n in names))
    print()
    for task, day, results in rows:
        mc_r = results["marketing_core"]
        parts = [f"{task}, {day} defects ({mc_r['invalid']:,} rows quarantined)"]
        for n in names:
            if n != "marketing_core":
                parts.append(f"{results[n]['seconds'] / mc_r['seconds']:.1f}x faster than {n}"
                             f" (peak memory {mc_r['peak_mb'] / results[n]['peak_mb']:.2f}x of {n}'s)")
        print("; ".join(parts))
    if copiers:
        print()
        print("The floor: read the input and write it back as Parquet, no checks (best of "
              f"{args.repeat}); marketing_core validates in:")
        for task, day, results in rows:
            if not all(n in results for n in copiers):
                continue
            mc_s = results["marketing_core"]["seconds"]
            floor = "; ".join(f"{n} {results[n]['seconds']:.2f} s ({mc_s / results[n]['seconds']:.2f}x of it)" for n in copiers)
            print(f"{task:<18} {day:>7} marketing_core {mc_s:.2f} s; {floor}")


if __name__ == "__main__":
    main()
