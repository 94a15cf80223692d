from __future__ import annotations

import pathlib

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

DS = "2025-05-25"
REPO = pathlib.Path(__file__).resolve().parent.parent


def read_file(path: str | pathlib.Path) -> pa.Table:
    """Reads a generated file with pyarrow's own readers (not ours)."""
    path = str(path)
    if path.endswith(".parquet"):
        return pq.read_table(path)
    if path.endswith(".csv"):
        # An empty field is a null, as our CSV writer writes nulls.
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    return pajson.read_json(path)


@pytest.fixture(scope="session")
def small_day(tmp_path_factory):
    """One clean day at scale 0.05, generated once for the read-only tests."""
    import marketing_core as mc

    out = tmp_path_factory.mktemp("small_day")
    day = mc.generate_day(DS, out, scale_factor=0.05, seed=7)
    return day
