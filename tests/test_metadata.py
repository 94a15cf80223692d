"""The SQLite metadata store, including concurrent writers from several processes."""

from __future__ import annotations

import multiprocessing as mp

from marketing_core.metadata import CheckRecord, MetadataStore


def check(sig: str, failed: int, dataset: str = "contacts") -> CheckRecord:
    return CheckRecord(
        dataset=dataset, check_name="not_null", column_name="email", severity="error",
        status="failed" if failed else "passed", rows_in=100, rows_failed=failed, signature=sig,
        rule="not_null", sample_values=("a", None), ds="2025-05-25",
    )


def test_new_signatures_are_reported_once(tmp_path):
    store = MetadataStore(tmp_path / "m.sqlite")
    assert store.record_checks("run1", [check("s1", 3), check("s2", 0)]) == {"s1"}
    assert store.record_checks("run2", [check("s1", 5)]) == set()
    sigs = {s["signature"]: s for s in store.signatures()}
    assert set(sigs) == {"s1"} and sigs["s1"]["occurrences"] == 2
    assert sigs["s1"]["first_seen"] <= sigs["s1"]["last_seen"]
    assert len(store.checks(dataset="contacts", ds="2025-05-25")) == 3


def test_file_attempts_are_an_append_only_log(tmp_path):
    store = MetadataStore(tmp_path / "m.sqlite")
    store.record_file_attempts([{"file_name": "a.csv", "uri": "s3://b/a.csv", "status": "uploaded", "md5": "x", "size": 3}])
    store.record_file_attempts([{"file_name": "a.csv", "uri": "s3://b/a.csv", "status": "skipped", "md5": "x", "size": 3}])
    assert [a["status"] for a in store.file_attempts(uri="s3://b/a.csv")] == ["uploaded", "skipped"]


def _writer(path: str, worker: int, out) -> None:
    store = MetadataStore(path)
    new = set()
    for i in range(40):
        new |= store.record_checks(f"w{worker}-{i}", [check(f"sig{i % 10}", 1), check(f"own{worker}", 1)])
    out.put(sorted(new))


def test_concurrent_processes_never_both_see_a_signature_as_new(tmp_path):
    path = str(tmp_path / "m.sqlite")
    MetadataStore(path)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, w, out)) for w in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    all_new = [s for r in results for s in r]
    assert sorted(all_new) == sorted({*(f"sig{i}" for i in range(10)), *(f"own{w}" for w in range(4))})
    store = MetadataStore(path)
    assert len(store.checks()) == 4 * 40 * 2
    assert {s["signature"]: s["occurrences"] for s in store.signatures()}["sig3"] == 16
