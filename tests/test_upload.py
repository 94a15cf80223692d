"""Idempotent upload against a real S3 server (SeaweedFS ``weed mini``, started here on
127.0.0.1 with authentication on) and against the ``file://`` store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

import marketing_core as mc
from marketing_core.exceptions import (
    AuthenticationError,
    InvalidBucketError,
    InvalidKeyError,
    MarketingCoreError,
    StorageError,
)
from marketing_core.metadata import MetadataStore
from marketing_core.storage import StoreConfig, store_config_from_connection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_server import ACCESS_KEY, REGION, SECRET_KEY, CountingProxy, MotoServer, SeaweedServer  # noqa: E402

DS = "2025-05-25"
MIB = 1024 * 1024


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def multipart_etag(path: Path, part_size: int) -> str:
    """S3's ETag of an object uploaded in parts of part_size: the MD5 of the parts' MD5s."""
    digests, parts = b"", 0
    with open(path, "rb") as f:
        while chunk := f.read(part_size):
            digests += hashlib.md5(chunk).digest()
            parts += 1
    return f"{hashlib.md5(digests).hexdigest()}-{parts}"


def stored_name(client, bucket: str, key: str) -> str:
    """What names the stored object's content: its `md5` metadata, or for a large object
    written in parts straight to its key, its multipart ETag (the part size in `part-size`)."""
    head = client.head_object(Bucket=bucket, Key=key)
    if "md5" in head["Metadata"]:
        return head["Metadata"]["md5"]
    assert "part-size" in head["Metadata"], head
    return head["ETag"].strip('"')


def holds(client, bucket: str, key: str, path: Path) -> bool:
    """The stored object is named as the local file's content is."""
    head = client.head_object(Bucket=bucket, Key=key)
    if "md5" in head["Metadata"]:
        return head["Metadata"]["md5"] == md5_of(path)
    return head["ETag"].strip('"') == multipart_etag(path, int(head["Metadata"]["part-size"]))


def write_files(directory: Path, n: int, size: int = 4096, seed: str = "a") -> list[Path]:
    """`n` files named like the generator's (`<dataset>_<ds>.csv`), distinct content."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = directory / f"dataset{i:03d}_{DS}.csv"
        chunk = f"{seed}-{i}-".encode()
        p.write_bytes((chunk * (size // len(chunk) + 1))[:size])
        paths.append(p)
    return paths


def write_big(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(size // MIB):
            f.write(block[i % 7 :] + block[: i % 7])
        f.write(block[: size % MIB])
    return path


@pytest.fixture(scope="session")
def proxy(s3):
    p = CountingProxy(s3.port)
    yield p
    p.close()


def s3_store(endpoint: str, **overrides) -> StoreConfig:
    cfg = StoreConfig(
        url="s3://",
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        max_retries=2,
        retry_timeout=5.0,
        connect_timeout=2.0,
    )
    return StoreConfig(**{**cfg.__dict__, **overrides})


@pytest.fixture
def bucket(s3):
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.client().create_bucket(Bucket=name)
    return name


def list_keys(client, bucket: str) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def empty_bucket(client, bucket: str) -> None:
    for key in list_keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)


# -- S3: idempotency -----------------------------------------------------------------------


def test_upload_then_rerun_sends_nothing(tmp_path, s3, proxy, bucket):
    files = write_files(tmp_path / "data", 12)
    (tmp_path / "data" / ".marketing_core").mkdir()
    (tmp_path / "data" / ".marketing_core" / f"dataset000_{DS}.csv.json").write_text("{}")
    store = s3_store(proxy.endpoint)

    proxy.clear()
    first = mc.upload(tmp_path / "data", bucket=bucket, store=store)
    assert first.counts() == {"uploaded": 12, "skipped": 0, "conflict": 0, "failed": 0}
    # The first upload to a bucket proves conditional writes once (a probe object).
    assert [m for m, _, _ in proxy.probe_requests()] == ["PUT", "PUT", "PUT", "POST"]  # POST: DeleteObjects
    assert [m for m, _, _ in proxy.data_requests()].count("PUT") == 12
    client = s3.client()
    assert list_keys(client, bucket) == sorted(f"valid-data/{p.stem.rsplit('_', 1)[0]}/ds={DS}/{p.name}" for p in files)
    for f in first:
        head = client.head_object(Bucket=bucket, Key=f.key)
        assert head["Metadata"]["md5"] == md5_of(Path(f.source)) == f.md5
        assert head["ETag"].strip('"') == f.md5
        assert f.uri == f"s3://{bucket}/{f.key}"
        assert f.bytes == f.bytes_sent == 4096

    proxy.clear()
    second = mc.upload(tmp_path / "data", bucket=bucket, store=store)
    assert second.counts() == {"uploaded": 0, "skipped": 12, "conflict": 0, "failed": 0}
    assert second.bytes_sent == 0 and second.write_requests == 0
    # Seen on the wire: one HEAD per file, no PUT, no body transfer.
    assert sorted(set(proxy.methods())) == ["HEAD"], proxy.requests
    assert len(proxy.requests) == 12
    assert [f.md5 for f in second] == [f.md5 for f in first]


@pytest.mark.parametrize("sign_payload, signed", [(None, True), (True, True), (False, False)])
def test_payload_signing(tmp_path, proxy, bucket, sign_payload, signed):
    write_files(tmp_path / "data", 2)
    proxy.clear()
    report = mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(proxy.endpoint, sign_payload=sign_payload))
    assert report.counts()["uploaded"] == 2
    puts = [h for (m, h), probe in zip(proxy.payload_hashes, proxy.probe_flags) if m == "PUT" and not probe]
    assert len(puts) == 2
    if signed:  # plain HTTP: the signature covers the body by default
        assert all(h and len(h) == 64 and h != hashlib.sha256(b"").hexdigest() for h in puts), puts
    else:
        assert puts == ["UNSIGNED-PAYLOAD"] * 2


def test_emptied_bucket_gets_everything_again(tmp_path, s3, bucket):
    write_files(tmp_path / "data", 8)
    store = s3_store(s3.endpoint)
    assert len(mc.upload(tmp_path / "data", bucket=bucket, store=store).uploaded) == 8
    client = s3.client()
    empty_bucket(client, bucket)
    assert list_keys(client, bucket) == []
    again = mc.upload(tmp_path / "data", bucket=bucket, store=store)
    assert again.counts()["uploaded"] == 8
    assert len(list_keys(client, bucket)) == 8


LOCK_PREFIX = "_marketing_core_tmp/locks/"


@pytest.fixture(params=[None, "copy", "complete"])
def publish(request):
    """The ways a multipart upload is published (the store option ``multipart_publish``):
    a lease (lock object) + conditional CompleteMultipartUpload at the key (the default,
    None), staging + conditional copy, and the conditional CompleteMultipartUpload alone."""
    return request.param


def test_multipart_is_published_conditionally(tmp_path, s3, proxy, bucket, publish):
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 12 * MIB)
    proxy.clear()
    report = mc.upload(big, bucket=bucket, store=s3_store(proxy.endpoint, multipart_publish=publish), multipart_threshold=5 * MIB, part_size=5 * MIB)
    assert report[0].status == "uploaded" and report[0].multipart
    staged = [r for r in proxy.data_requests() if "_marketing_core_tmp" in r[1]]
    completes = [r for r in proxy.requests if r[0] == "POST" and "uploadId=" in r[1]]
    parts = [r for r in proxy.requests if r[0] == "PUT" and "partNumber=" in r[1]]
    assert len(parts) == 3
    if publish == "complete":
        assert staged == [] and len(completes) == 1 and "_marketing_core_tmp" not in completes[0][1]
    elif publish is None:  # the default: a lease
        # The bytes go once, straight to the key; around them only the lock object:
        # created, renewed right before the completion, checked, deleted.
        assert len(completes) == 1 and "_marketing_core_tmp" not in completes[0][1]
        assert all("/_marketing_core_tmp/locks/" in r[1] for r in staged), staged
        assert [r[0] for r in staged] == ["PUT", "PUT", "HEAD"], staged
        assert [r[0] for r in proxy.data_requests() if r[1].endswith("?delete")] == ["POST"]  # DeleteObjects
    else:
        # Parts go to a staging key; the copy publishes it (the staging object is then
        # deleted: only the final key is listed below).
        assert len([r for r in staged if "partNumber=" in r[1]]) == 3, proxy.requests
        assert not completes or all("_marketing_core_tmp" in r[1] for r in completes)
    assert list_keys(s3.client(), bucket) == [f"valid-data/contacts/ds={DS}/contacts_{DS}.csv"]
    # The same key again: skipped after one HEAD.
    proxy.clear()
    again = mc.upload(big, bucket=bucket, store=s3_store(proxy.endpoint, multipart_publish=publish), multipart_threshold=5 * MIB, part_size=5 * MIB)
    assert again[0].status == "skipped"
    assert proxy.methods() == ["HEAD"]


READ_DURING_UPLOAD = textwrap.dedent(
    """
    import json, sys
    import marketing_core as mc
    from marketing_core.storage import StoreConfig
    cfg = json.loads(sys.argv[1])
    def read_so_far():  # bytes this process read with read()/pread(), every thread
        return int(next(line for line in open("/proc/self/io") if line.startswith("rchar")).split()[1])
    out = []
    for _ in range(2):
        before = read_so_far()
        report = mc.upload(cfg["src"], bucket=cfg["bucket"], store=StoreConfig(**cfg["store"]),
                           multipart_threshold=5 * 1024 * 1024, part_size=5 * 1024 * 1024)
        out.append({"read": read_so_far() - before, "status": report[0].status, "md5": report[0].md5})
    print(json.dumps(out))
    """
)


def test_a_new_large_file_is_read_once_and_named_by_its_parts(tmp_path, s3, bucket):
    """No hashing pass before the parts go out: a new large key costs one read of the file,
    and its name is the multipart ETag the server's part ETags give. The rerun reads it
    once more, to compare with that name, and sends nothing."""
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 40 * MIB)
    run = subprocess.run(
        [sys.executable, "-c", READ_DURING_UPLOAD,
         json.dumps({"src": str(big), "bucket": bucket, "store": s3_store(s3.endpoint).__dict__})],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = json.loads(run.stdout)
    assert first["status"] == "uploaded" and second["status"] == "skipped"
    size = big.stat().st_size
    assert size <= first["read"] < 1.25 * size, f"read {first['read']:,} bytes of a {size:,}-byte file"
    assert size <= second["read"] < 1.25 * size
    assert first["md5"] == second["md5"] == multipart_etag(big, 5 * MIB)
    assert holds(s3.client(), bucket, f"valid-data/contacts/ds={DS}/{big.name}", big)


def test_changed_file_is_refused_then_replaced_conditionally(tmp_path, s3, bucket, publish):
    small = write_files(tmp_path / "data", 1)[0]
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 12 * MIB)
    store = s3_store(s3.endpoint, multipart_publish=publish)
    opts = dict(bucket=bucket, store=store, multipart_threshold=5 * MIB, part_size=5 * MIB)
    first = mc.upload([small, big], **opts)
    assert [f.status for f in first] == ["uploaded", "uploaded"]
    assert [f.multipart for f in first] == [False, True]
    client = s3.client()
    big_key = f"valid-data/contacts/ds={DS}/contacts_{DS}.csv"
    assert holds(client, bucket, big_key, big)
    # No staging object is left behind.
    assert not [k for k in list_keys(client, bucket) if k.startswith("_marketing_core_tmp")]

    small.write_bytes(b"changed content\n")
    with open(big, "r+b") as f:
        f.seek(6 * MIB)
        f.write(b"changed")
    refused = mc.upload([small, big], **opts)
    assert [f.status for f in refused] == ["conflict", "conflict"]
    assert "different content" in refused.conflicts[0].error
    with pytest.raises(mc.ConflictError):
        refused.raise_for_status()
    # Still the old content.
    assert stored_name(client, bucket, big_key) == first[1].md5

    replaced = mc.upload([small, big], policy="replace", **opts)
    assert [f.status for f in replaced] == ["uploaded", "uploaded"]
    assert all(f.replaced for f in replaced)
    for f in replaced:
        body = client.get_object(Bucket=bucket, Key=f.key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5_of(Path(f.source))
        assert stored_name(client, bucket, f.key) == f.md5 and holds(client, bucket, f.key, Path(f.source))
    assert mc.upload([small, big], **opts).counts()["skipped"] == 2


def test_object_written_by_another_tool_is_compared_by_etag(tmp_path, s3, bucket):
    f = write_files(tmp_path / "data", 1)[0]
    key = f"valid-data/dataset000/ds={DS}/{f.name}"
    s3.client().put_object(Bucket=bucket, Key=key, Body=f.read_bytes())  # no md5 metadata
    report = mc.upload(f, bucket=bucket, store=s3_store(s3.endpoint))
    assert report[0].status == "skipped"


CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import marketing_core as mc
    from marketing_core.storage import StoreConfig
    cfg = json.loads(sys.argv[1])
    while time.time() < cfg["start_at"]:
        time.sleep(0.001)
    try:
        report = mc.upload(cfg["src"], bucket=cfg["bucket"], store=StoreConfig(**cfg["store"]),
                           multipart_threshold=5 * 1024 * 1024, part_size=5 * 1024 * 1024, concurrency=8)
    except mc.StorageError as e:
        print(json.dumps({"error": str(e)}))
    else:
        print(json.dumps([[f.key, f.status, f.write_requests] for f in report]))
    """
)


def run_concurrently(src: Path, bucket: str, store: StoreConfig, n: int = 2) -> list[list[list]]:
    import time

    cfg = {"src": str(src), "bucket": bucket, "store": store.__dict__, "start_at": time.time() + 2.0}
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_SCRIPT, json.dumps(cfg)], stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        outs.append(json.loads(out))
    return outs


def assert_exactly_one_writer(outs: list[list[list]]) -> None:
    by_key: dict[str, list[str]] = {}
    for out in outs:
        for key, status, _ in out:
            by_key.setdefault(key, []).append(status)
    for key, statuses in by_key.items():
        assert sorted(statuses) == ["skipped", "uploaded"], (key, statuses)


@pytest.mark.parametrize("publish_path", ["lock", "copy"])
def test_two_processes_same_new_keys_exactly_one_write(tmp_path, s3, bucket, publish_path):
    # Not the conditional completion alone: SeaweedFS evaluates If-None-Match on
    # CompleteMultipartUpload non-atomically (two racing completions can both succeed),
    # which is why it runs behind a lock by default.
    write_files(tmp_path / "data", 20, size=256 * 1024)
    write_big(tmp_path / "data" / f"contacts_{DS}.csv", 11 * MIB)
    outs = run_concurrently(tmp_path / "data", bucket, s3_store(s3.endpoint, multipart_publish=publish_path))
    assert_exactly_one_writer(outs)
    client = s3.client()
    keys = [k for k in list_keys(client, bucket)]
    assert len(keys) == 21, keys
    for key, *_ in outs[0]:
        name = key.rsplit("/", 1)[-1]
        assert holds(client, bucket, key, tmp_path / "data" / name)


def test_two_processes_same_new_large_key(tmp_path, s3, bucket):
    """Two processes race on one large new key (the default, lock path): exactly one
    sends the bytes and writes; the other waits for it and reports skipped."""
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 48 * MIB)
    for _ in range(3):
        b = f"test-{uuid.uuid4().hex[:12]}"
        s3.client().create_bucket(Bucket=b)
        outs = run_concurrently(big, b, s3_store(s3.endpoint))
        statuses = sorted(out[0][1] for out in outs)
        assert statuses == ["skipped", "uploaded"], outs
        loser = next(out[0] for out in outs if out[0][1] == "skipped")
        assert loser[2] <= 1, f"the loser sent no parts: {loser}"
        client = s3.client()
        key = outs[0][0][0]
        assert list_keys(client, b) == [key]  # the lock is gone too
        assert holds(client, b, key, big)
        body = client.get_object(Bucket=b, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5_of(big)


def test_two_processes_same_large_key_different_content(tmp_path, s3, bucket):
    a = write_big(tmp_path / "a" / f"contacts_{DS}.csv", 24 * MIB)
    b = write_big(tmp_path / "b" / f"contacts_{DS}.csv", 24 * MIB)
    import time

    store = s3_store(s3.endpoint)
    start_at = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_SCRIPT,
             json.dumps({"src": str(src), "bucket": bucket, "store": store.__dict__, "start_at": start_at})],
            stdout=subprocess.PIPE, text=True,
        )
        for src in (a, b)
    ]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sorted(out[0][1] for out in outs) == ["conflict", "uploaded"], outs
    winner = a if outs[0][0][1] == "uploaded" else b
    key = outs[0][0][0]
    client = s3.client()
    assert list_keys(client, bucket) == [key]
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.md5(body).hexdigest() == md5_of(winner)


def put_lock(client, bucket: str, key: str, **fields: str) -> str:
    """A lock object as another uploader would have left it."""
    name = hashlib.md5(key.encode()).hexdigest()
    body = "".join(f"{k}={v}\n" for k, v in fields.items()) + f"key={key}\n"
    client.put_object(Bucket=bucket, Key=f"{LOCK_PREFIX}{name}.lock", Body=body.encode())
    return f"{LOCK_PREFIX}{name}.lock"


def test_stale_lock_of_another_machine_is_taken_over_after_ttl(tmp_path, s3, bucket):
    import time

    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 12 * MIB)
    key = f"valid-data/contacts/ds={DS}/{big.name}"
    client = s3.client()
    # A holder on another machine that crashed: no heartbeat ever comes.
    put_lock(client, bucket, key, machine="another-machine", pid="4242", process="4242-dead",
             heartbeat_seconds="0.3")
    clock = time.perf_counter()
    report = mc.upload(big, bucket=bucket, store=s3_store(s3.endpoint, lock_ttl=2.0), multipart_threshold=5 * MIB, part_size=5 * MIB)
    waited = time.perf_counter() - clock
    assert report[0].status == "uploaded", report[0].error
    assert waited >= 2.0, "a lock of another machine is only taken over after the TTL"
    assert list_keys(client, bucket) == [key]
    assert holds(client, bucket, key, big)


def test_lock_of_a_dead_local_process_is_taken_over_at_once(tmp_path, s3, bucket):
    import time

    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 12 * MIB)
    key = f"valid-data/contacts/ds={DS}/{big.name}"
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    host = Path("/proc/sys/kernel/hostname").read_text().strip()
    machine = f"{boot}/{host}/{os.readlink('/proc/self/ns/pid')}"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    client = s3.client()
    put_lock(client, bucket, key, machine=machine, pid=str(dead.pid), process=f"{dead.pid}-gone", heartbeat_seconds="10")
    clock = time.perf_counter()
    report = mc.upload(big, bucket=bucket, store=s3_store(s3.endpoint), multipart_threshold=5 * MIB, part_size=5 * MIB)
    assert report[0].status == "uploaded", report[0].error
    assert time.perf_counter() - clock < 20, "no TTL wait for a holder known to be gone"
    assert list_keys(client, bucket) == [key]


def test_live_lock_holder_is_waited_for_then_compared(tmp_path, s3, bucket):
    """A holder that keeps its lock alive is waited for; once its object appears, the
    waiter compares MD5s (here: the same content → skipped) and sends no parts."""
    import time

    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 12 * MIB)
    key = f"valid-data/contacts/ds={DS}/{big.name}"
    client = s3.client()
    stop = threading.Event()

    def holder():
        seq = 0
        while not stop.is_set():  # heartbeats: the lock's ETag keeps changing
            put_lock(client, bucket, key, machine="another-machine", pid="1", process="holder",
                     heartbeat_seconds="0.3", seq=str(seq))
            seq += 1
            time.sleep(0.3)
        client.put_object(Bucket=bucket, Key=key, Body=big.read_bytes(), Metadata={"md5": md5_of(big)})
        client.delete_object(Bucket=bucket, Key=put_lock(client, bucket, key))

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.5)
    threading.Timer(4.0, stop.set).start()  # longer than the TTL
    report = mc.upload(big, bucket=bucket, store=s3_store(s3.endpoint, lock_ttl=2.0), multipart_threshold=5 * MIB, part_size=5 * MIB)
    thread.join()
    assert report[0].status == "skipped", report[0].error
    assert report[0].bytes_sent == 0
    assert list_keys(client, bucket) == [key]


# -- a file changed while it is uploaded ----------------------------------------------------


def change_in_place_once(path: Path, after: int, at: int) -> tuple[threading.Event, object]:
    """A progress callback that overwrites bytes of `path` in place (same size) once
    `after` bytes went out: the parts read after it carry the new bytes, while the MD5
    was computed over the old ones."""
    changed = threading.Event()

    def progress(done, total, files_done, files_total):
        if done >= after and not changed.is_set():
            with open(path, "r+b") as f:
                f.seek(at)
                f.write(b"changed in place during the upload")
            changed.set()

    return changed, progress


def test_file_changed_during_multipart_upload_is_not_published(tmp_path, s3, bucket, publish):
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 16 * MIB)
    changed, progress = change_in_place_once(big, after=5 * MIB, at=12 * MIB)
    store = s3_store(s3.endpoint, multipart_publish=publish)
    opts = dict(bucket=bucket, store=store, multipart_threshold=5 * MIB, part_size=5 * MIB, part_concurrency=1)
    with pytest.raises(StorageError) as info:
        mc.upload(big, progress=progress, **opts)
    assert changed.is_set()
    failed = info.value.report[0]
    assert failed.status == "failed" and failed.error_kind == "changed", failed
    assert "changed during upload" in failed.error and str(big) in failed.error
    assert "changed during upload" in str(info.value)
    client = s3.client()
    # Nothing at the key, no staging object, no lock left behind.
    assert list_keys(client, bucket) == []
    # The next run (the file is stable now) uploads the new content, under its own MD5,
    # and the one after skips it: `skipped` means the same content again.
    again = mc.upload(big, **opts)
    assert again[0].status == "uploaded"
    key = again[0].key
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.md5(body).hexdigest() == md5_of(big) and again[0].md5 == stored_name(client, bucket, key)
    assert holds(client, bucket, key, big)
    assert mc.upload(big, **opts)[0].status == "skipped"


def test_file_changed_during_multipart_upload_to_file_store(tmp_path):
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 16 * MIB)
    changed, progress = change_in_place_once(big, after=5 * MIB, at=12 * MIB)
    root = tmp_path / "buckets"
    opts = dict(bucket="marketing-data", store=f"file://{root}", multipart_threshold=5 * MIB, part_size=5 * MIB,
                part_concurrency=1)
    report = mc.upload(big, progress=progress, raise_on_error=False, **opts)
    assert changed.is_set()
    assert report[0].status == "failed" and report[0].error_kind == "changed"
    assert "changed during upload" in report[0].error
    bucket_dir = root / "marketing-data"
    assert [p for p in bucket_dir.rglob("*") if p.is_file()] == []  # not at the key, nothing staged
    again = mc.upload(big, **opts)
    assert again[0].status == "uploaded"
    assert md5_of(bucket_dir / again[0].key) == md5_of(big) == again[0].md5


# -- S3: servers that ignore conditional writes ---------------------------------------------


@pytest.fixture(scope="session")
def blind(s3):
    """SeaweedFS behind a proxy that drops If-None-Match / If-Match: a server that
    ignores conditional writes."""
    p = CountingProxy(s3.port, strip_conditions=True)
    yield p
    p.close()


def test_server_ignoring_conditional_writes_is_refused_before_any_data_write(tmp_path, s3, blind, bucket):
    write_files(tmp_path / "data", 3)
    blind.clear()
    with pytest.raises(StorageError) as info:
        mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(blind.endpoint))
    message = str(info.value)
    assert not isinstance(info.value, AuthenticationError)
    assert blind.endpoint in message and "ignores conditional writes" in message, message
    assert "If-None-Match" in message and 'conditional_writes="assume"' in message
    # Only the probe went out (created twice: the server should have refused the second),
    # and it cleaned up after itself.
    assert blind.data_requests() == []
    assert [m for m, _, _ in blind.probe_requests()] == ["PUT", "PUT", "POST"]  # POST: DeleteObjects
    assert list_keys(s3.client(), bucket) == []
    # The answer is remembered for the process: no second probe, the same refusal.
    blind.clear()
    with pytest.raises(StorageError, match="ignores conditional writes"):
        mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(blind.endpoint))
    assert blind.requests == []


def test_racing_writers_behind_a_blind_server_do_not_claim_uploads(tmp_path, s3, blind, bucket):
    # Without the probe, 2-3 of 4 racing writers reported `uploaded` here.
    write_files(tmp_path / "data", 8, size=64 * 1024)
    outs = run_concurrently(tmp_path / "data", bucket, s3_store(blind.endpoint), n=4)
    assert all(isinstance(out, dict) and "ignores conditional writes" in out["error"] for out in outs), outs
    assert list_keys(s3.client(), bucket) == []


def test_explicit_opt_out_uploads_without_the_probe(tmp_path, s3, blind, bucket):
    write_files(tmp_path / "data", 3)
    blind.clear()
    store = s3_store(blind.endpoint, conditional_writes="assume")
    assert "conditional_writes='assume'" in repr(store)
    report = mc.upload(tmp_path / "data", bucket=bucket, store=store)
    assert report.counts()["uploaded"] == 3
    assert blind.probe_requests() == []
    with pytest.raises(mc.InvalidArgumentError, match="conditional_writes"):
        mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(s3.endpoint, conditional_writes="maybe"))


def test_probe_runs_once_per_store_and_leaves_nothing(tmp_path, s3, proxy, bucket):
    write_files(tmp_path / "data", 2)
    other = write_files(tmp_path / "other", 2, seed="b")
    proxy.clear()
    mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(proxy.endpoint))
    probe = proxy.probe_requests()
    # create (200), create again (412), update on a wrong ETag (412), delete.
    assert [(m, status) for m, _, status in probe] == [("PUT", 200), ("PUT", 412), ("PUT", 412), ("POST", 200)]
    proxy.clear()
    mc.upload(other, bucket=bucket, store=s3_store(proxy.endpoint), prefix="other")
    assert proxy.probe_requests() == []
    assert not [k for k in list_keys(s3.client(), bucket) if k.startswith("_marketing_core_tmp")]


def test_cli_conditional_writes_flag(tmp_path, s3, blind, bucket):
    write_files(tmp_path / "data", 2)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION=REGION)
    cmd = [sys.executable, "-m", "marketing_core.cli", "upload", str(tmp_path / "data"), "--bucket", bucket,
           "--store", "s3://", "--endpoint-url", blind.endpoint, "--allow-http"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode != 0 and "ignores conditional writes" in refused.stdout + refused.stderr
    assert list_keys(s3.client(), bucket) == []
    assumed = subprocess.run(cmd + ["--conditional-writes", "assume"], capture_output=True, text=True, timeout=60, env=env)
    assert assumed.returncode == 0, assumed.stdout + assumed.stderr
    assert "2 uploaded" in assumed.stdout


# -- a second S3 implementation: moto -------------------------------------------------------


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


def test_moto_passes_the_probe_and_uploads_idempotently(tmp_path, moto):
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    write_files(tmp_path / "data", 4)
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 12 * MIB)
    counting = CountingProxy(moto.port)
    try:
        opts = dict(bucket=bucket, store=s3_store(counting.endpoint), multipart_threshold=5 * MIB, part_size=5 * MIB)
        first = mc.upload(tmp_path / "data", **opts)
        assert first.counts()["uploaded"] == 5, first
        probe = [(m, status) for m, _, status in counting.probe_requests()]
        assert probe[:3] == [("PUT", 200), ("PUT", 412), ("PUT", 412)], probe
        again = mc.upload(tmp_path / "data", **opts)
        assert again.counts()["skipped"] == 5 and again.bytes_sent == 0
    finally:
        counting.close()
    client = moto.client()
    assert len(list_keys(client, bucket)) == 5  # no probe, lock or staging object left
    body = client.get_object(Bucket=bucket, Key=first[0].key)["Body"].read()
    assert hashlib.md5(body).hexdigest() == md5_of(big)
    assert holds(client, bucket, first[0].key, big)
    assert first[0].md5 == multipart_etag(big, 5 * MIB)  # named by its parts, not hashed first
    # Other content at the key is a conflict, and replacing it names the new content.
    with open(big, "r+b") as f:
        f.seek(7 * MIB)
        f.write(b"other content")
    opts = dict(bucket=bucket, store=s3_store(moto.endpoint), multipart_threshold=5 * MIB, part_size=5 * MIB)
    refused = mc.upload(big, **opts)
    assert refused[0].status == "conflict" and "different content" in refused[0].error
    replaced = mc.upload(big, policy="replace", **opts)
    assert replaced[0].status == "uploaded" and replaced[0].replaced and holds(client, bucket, first[0].key, big)
    assert mc.upload(big, **opts)[0].status == "skipped"


def test_moto_two_processes_same_new_keys_exactly_one_write(tmp_path, moto):
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    write_files(tmp_path / "data", 12, size=64 * 1024)
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 11 * MIB)  # multipart, behind the lease
    outs = run_concurrently(tmp_path / "data", bucket, s3_store(moto.endpoint))
    assert_exactly_one_writer(outs)
    client = moto.client()
    assert len(list_keys(client, bucket)) == 13
    assert holds(client, bucket, f"valid-data/contacts/ds={DS}/{big.name}", big)


# -- S3: failures --------------------------------------------------------------------------


def test_server_stopped_mid_multipart_then_retry_completes(tmp_path):
    big = write_big(tmp_path / "src" / f"website_activity_{DS}.json", 80 * MIB)
    key = f"valid-data/website_activity/ds={DS}/{big.name}"
    server = SeaweedServer(tmp_path / "seaweed").start()
    try:
        server.client().create_bucket(Bucket="interrupted")
        store = s3_store(server.endpoint, max_retries=1, retry_timeout=2.0)
        stopped = threading.Event()

        def progress(done, total, files_done, files_total):
            # Stop the server once a quarter of the parts are out; the upload blocks here
            # until it is gone, so the rest of the parts meet a dead server.
            if done >= 20 * MIB and not stopped.is_set():
                stopped.set()
                server.stop()

        with pytest.raises(StorageError) as info:
            mc.upload(big, bucket="interrupted", store=store, multipart_threshold=5 * MIB,
                      part_size=5 * MIB, part_concurrency=2, progress=progress)
        assert stopped.is_set()
        assert not isinstance(info.value, AuthenticationError)
        report = info.value.report
        assert report.counts()["failed"] == 1 and report[0].multipart

        server.start()
        client = server.client()
        # Nothing visible: no object at any data key, no staging object. At most the
        # upload lock is left behind (the server went away before it could be deleted).
        assert [k for k in list_keys(client, "interrupted") if not k.startswith(LOCK_PREFIX)] == []
        # The retry with the default retry policy: a freshly restarted SeaweedFS answers
        # 500 for a moment (its volumes are still loading); those are retried.
        again = mc.upload(big, bucket="interrupted", store=s3_store(server.endpoint, max_retries=None, retry_timeout=None),
                          multipart_threshold=5 * MIB, part_size=5 * MIB)
        assert again[0].status == "uploaded"
        # The retry took its own leftover lock over at once (same process, no task of
        # it holding the key), completed, and deleted the lock.
        assert list_keys(client, "interrupted") == [key]
        body = client.get_object(Bucket="interrupted", Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5_of(big)
        assert again[0].md5 == stored_name(client, "interrupted", key) and holds(client, "interrupted", key, big)
    finally:
        server.stop()


def test_wrong_credentials_raise_authentication_error(tmp_path, s3, bucket):
    write_files(tmp_path / "data", 3)
    secret = "wrong-secret-value-1234"
    store = s3_store(s3.endpoint, secret_access_key=secret)
    with pytest.raises(AuthenticationError) as info:
        mc.upload(tmp_path / "data", bucket=bucket, store=store)
    exc = info.value
    assert isinstance(exc, StorageError) and isinstance(exc, MarketingCoreError)
    texts = [str(exc), repr(exc), repr(store), str(store), repr(exc.report)]
    texts += [repr(f) for f in exc.report] + [f.error or "" for f in exc.report]
    for text in texts:
        assert secret not in text and ACCESS_KEY not in text, text
    assert "***" in repr(store)
    assert {f.status for f in exc.report} == {"failed"}
    assert {f.error_kind for f in exc.report} == {"auth"}
    assert list_keys(s3.client(), bucket) == []

    unknown_key = s3_store(s3.endpoint, access_key_id="nobody-at-all")
    with pytest.raises(AuthenticationError):
        mc.upload(tmp_path / "data", bucket=bucket, store=unknown_key)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"prefix": "../escape"}, InvalidKeyError),
        ({"prefix": "/absolute"}, InvalidKeyError),
        ({"prefix": "a//b"}, InvalidKeyError),
        ({"dataset": "contacts/../../x", "ds": DS}, InvalidKeyError),
        ({"keys": "control"}, InvalidKeyError),
        ({"keys": "dotdot"}, InvalidKeyError),
        ({"bucket": "Bad_Bucket"}, InvalidBucketError),
        ({"bucket": "ab"}, InvalidBucketError),
    ],
)
def test_bad_keys_rejected_before_any_request(tmp_path, s3, proxy, bucket, kwargs, error):
    files = write_files(tmp_path / "data", 2)
    kwargs = dict(kwargs)
    kwargs.setdefault("bucket", bucket)
    if kwargs.get("keys") == "control":
        kwargs["keys"] = {files[0]: "ok/a.csv", files[1]: "bad/\x07bell.csv"}
    elif kwargs.get("keys") == "dotdot":
        kwargs["keys"] = {files[0]: "ok/a.csv", files[1]: "a/../../b.csv"}
    proxy.clear()
    with pytest.raises(error):
        mc.upload(tmp_path / "data", store=s3_store(proxy.endpoint), **kwargs)
    assert proxy.requests == []
    assert list_keys(s3.client(), bucket) == []
    assert issubclass(error, ValueError)


def test_unplaceable_file_is_rejected_before_any_request(tmp_path, proxy, bucket):
    write_files(tmp_path / "data", 1)
    (tmp_path / "data" / "notes.txt").write_text("no dataset in this name")
    proxy.clear()
    with pytest.raises(InvalidKeyError, match="notes.txt"):
        mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(proxy.endpoint))
    assert proxy.requests == []


# -- layout, metadata, configuration -------------------------------------------------------


def test_layout_kinds_and_explicit_placement(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    for name in (f"contacts_{DS}.csv", f"contacts_{DS}.quarantine.parquet", f"contacts_{DS}.report.json"):
        (d / name).write_text("x")
    planned = {Path(p).name: key for p, key, _, _ in mc.plan_upload(d)}
    assert planned == {
        f"contacts_{DS}.csv": f"valid-data/contacts/ds={DS}/contacts_{DS}.csv",
        f"contacts_{DS}.quarantine.parquet": f"quarantine-data/contacts/ds={DS}/contacts_{DS}.quarantine.parquet",
        f"contacts_{DS}.report.json": f"dq-reports/contacts/ds={DS}/report.json",
    }
    (tmp_path / "report.json").write_text("{}")
    [(_, key, dataset, ds)] = mc.plan_upload(tmp_path / "report.json", kind="dq-reports", dataset="forms", ds="2025-06-01")
    assert (key, dataset, ds) == ("dq-reports/forms/ds=2025-06-01/report.json", "forms", "2025-06-01")
    [(_, key, _, _)] = mc.plan_upload(d / f"contacts_{DS}.csv", kind="quarantine-data")
    assert key == f"quarantine-data/contacts/ds={DS}/contacts_{DS}.csv"


def test_generated_day_uploads_to_the_spec_layout(small_day, s3, bucket):
    report = mc.upload(small_day.out_dir, bucket=bucket, store=s3_store(s3.endpoint))
    keys = sorted(f.key for f in report)
    assert keys == sorted(f"valid-data/{r.dataset}/ds={r.ds}/{Path(r.path).name}" for r in small_day)
    assert report.ok and report.counts()["uploaded"] == 6


def test_attempts_are_logged_in_file_metadata(tmp_path, s3, bucket):
    write_files(tmp_path / "data", 3)
    db = tmp_path / "meta.sqlite"
    store = s3_store(s3.endpoint)
    mc.upload(tmp_path / "data", bucket=bucket, store=store, metadata=db)
    mc.upload(tmp_path / "data", bucket=bucket, store=store, metadata=MetadataStore(db))
    rows = MetadataStore(db).file_attempts()
    assert [r["status"] for r in rows] == ["uploaded"] * 3 + ["skipped"] * 3
    first = rows[0]
    assert first["file_name"] == f"dataset000_{DS}.csv"
    assert first["dataset"] == "dataset000" and first["ds"] == DS
    assert first["uri"] == f"s3://{bucket}/valid-data/dataset000/ds={DS}/dataset000_{DS}.csv"
    assert first["md5"] == md5_of(tmp_path / "data" / first["file_name"]) and first["size"] == 4096
    assert first["started_at"] <= first["finished_at"]
    # The log is not consulted: emptying the bucket re-sends although the log says done.
    empty_bucket(s3.client(), bucket)
    assert mc.upload(tmp_path / "data", bucket=bucket, store=store).counts()["uploaded"] == 3


def test_failed_attempts_are_logged_too(tmp_path, s3, bucket):
    write_files(tmp_path / "data", 2)
    db = tmp_path / "meta.sqlite"
    with pytest.raises(AuthenticationError):
        mc.upload(tmp_path / "data", bucket=bucket, store=s3_store(s3.endpoint, secret_access_key="nope-nope"), metadata=db)
    rows = MetadataStore(db).file_attempts()
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all("nope-nope" not in (r["error"] or "") for r in rows)


@pytest.mark.parametrize(
    "config, named",
    [
        (dict(storage_options={"aws_endpiont": "http://x"}), "aws_endpiont"),
        (dict(storage_options={"aws_conditional_put": "disabled"}), "aws_conditional_put"),
        (dict(lock_ttl=0), "lock_ttl"),
        (dict(multipart_publish="fast"), "multipart_publish"),
        (dict(request_timeout=-1), "timeout"),
    ],
)
def test_a_bad_store_option_is_refused_naming_it_before_any_request(tmp_path, config, named):
    f = write_files(tmp_path / "data", 1)[0]
    store = StoreConfig(url="s3://", endpoint_url="http://127.0.0.1:1", **config)
    with pytest.raises(mc.InvalidArgumentError, match=named):
        mc.upload(f, bucket="marketing-data", store=store)


def test_upload_options_are_checked_in_rust(tmp_path):
    f = write_files(tmp_path / "data", 1)[0]
    with pytest.raises(mc.InvalidArgumentError, match="part_concurrency"):
        mc.upload(f, bucket="marketing-data", store=f"file://{tmp_path / 'b'}", part_concurrency=0)
    assert not (tmp_path / "b").exists(), "refused before the store is touched"


def test_store_from_env(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-xyz")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("MARKETING_CORE_STORE_URL", raising=False)
    cfg = mc.store_from_env()
    assert (cfg.url, cfg.endpoint_url, cfg.region, cfg.access_key_id) == ("s3://", "http://127.0.0.1:1", "eu-west-1", "AKIDENV")
    assert "env-secret-xyz" not in repr(cfg) and "AKIDENV" not in repr(cfg)
    # Only what is set crosses to Rust, where the defaults live (allow_http follows http://).
    assert dict(cfg.options()) == {"aws_endpoint": "http://127.0.0.1:1", "aws_region": "eu-west-1",
                                   "aws_access_key_id": "AKIDENV", "aws_secret_access_key": "env-secret-xyz"}
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert mc.store_from_env().url == "file://object-store"


def test_airflow_connection_helper(tmp_path, s3, bucket, monkeypatch):
    conn = {
        "conn_type": "aws",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": {"endpoint_url": s3.endpoint, "region_name": REGION},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MC_TEST_S3", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    cfg = mc.store_from_airflow_connection("mc_test_s3")
    assert cfg.endpoint_url == s3.endpoint and cfg.region == REGION and cfg.path_style
    assert SECRET_KEY not in repr(cfg)
    write_files(tmp_path / "data", 2)
    assert mc.upload(tmp_path / "data", bucket=bucket, store=cfg).counts()["uploaded"] == 2

    class FakeConn:
        login = None
        password = None
        extra_dejson = {"aws_access_key_id": "k", "aws_secret_access_key": "s",
                        "service_config": {"s3": {"endpoint_url": "http://minio:9000"}}}

    fake = store_config_from_connection(FakeConn())
    assert (fake.endpoint_url, fake.access_key_id, fake.secret_access_key) == ("http://minio:9000", "k", "s")


# -- file:// store ---------------------------------------------------------------------------


def test_file_store_idempotency(tmp_path):
    write_files(tmp_path / "data", 10)
    big = write_big(tmp_path / "data" / f"contacts_{DS}.csv", 11 * MIB)
    root = tmp_path / "buckets"
    store = f"file://{root}"
    opts = dict(bucket="marketing-data", store=store, multipart_threshold=5 * MIB, part_size=5 * MIB)
    first = mc.upload(tmp_path / "data", **opts)
    assert first.counts()["uploaded"] == 11
    stored = root / "marketing-data" / f"valid-data/contacts/ds={DS}/contacts_{DS}.csv"
    assert md5_of(stored) == md5_of(big)
    assert first[0].uri.startswith("file://") and first[0].uri.endswith(first[0].key)
    assert not (root / "marketing-data" / "_marketing_core_tmp").exists() or not any(
        p.is_file() for p in (root / "marketing-data" / "_marketing_core_tmp").rglob("*")
    )

    second = mc.upload(tmp_path / "data", **opts)
    assert second.counts()["skipped"] == 11 and second.bytes_sent == 0

    import shutil

    shutil.rmtree(root / "marketing-data")
    third = mc.upload(tmp_path / "data", **opts)
    assert third.counts()["uploaded"] == 11

    big.write_bytes(b"now small and different")
    refused = mc.upload(big, **opts)
    assert refused[0].status == "conflict"
    assert md5_of(stored) != md5_of(big)
    replaced = mc.upload(big, policy="replace", **opts)
    assert replaced[0].status == "uploaded" and md5_of(stored) == md5_of(big)


def test_file_store_two_processes_exactly_one_write(tmp_path):
    write_files(tmp_path / "data", 20, size=256 * 1024)
    write_big(tmp_path / "data" / f"contacts_{DS}.csv", 11 * MIB)
    store = StoreConfig(url=f"file://{tmp_path / 'buckets'}")
    outs = run_concurrently(tmp_path / "data", "marketing-data", store)
    assert_exactly_one_writer(outs)


def test_file_store_bad_keys(tmp_path):
    write_files(tmp_path / "data", 1)
    with pytest.raises(InvalidKeyError):
        mc.upload(tmp_path / "data", prefix="../../etc", store=f"file://{tmp_path / 'b'}")
    assert not (tmp_path / "b").exists()


# -- CLI -------------------------------------------------------------------------------------


def test_cli_upload_twice(tmp_path):
    write_files(tmp_path / "data", 4)
    db = tmp_path / "meta.sqlite"
    cmd = [sys.executable, "-m", "marketing_core.cli", "upload", str(tmp_path / "data"),
           "--store", f"file://{tmp_path / 'buckets'}", "--metadata", str(db)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 uploaded" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "4 skipped" in second.stdout
    assert len(MetadataStore(db).file_attempts()) == 8
    bad = subprocess.run(cmd[:-2] + ["--prefix", "../x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid object key" in bad.stdout
