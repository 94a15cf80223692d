"""The ``marketing-core`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import domains, generation, layout, settings, storage, validation
from .exceptions import InvalidArgumentError, MarketingCoreError

console = Console()
if not console.is_terminal:
    # Logs and CI captures: wide enough that the summary tables do not wrap.
    console = Console(width=120)


def parse_defects(text: str | None) -> dict[str, float] | None:
    try:
        return generation.parse_defects(text)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(f"--defects: {exc}") from None


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextlib.contextmanager
def day_progress():
    """A progress bar per dataset; yields the ``progress(dataset, done, total)`` callback."""
    tasks: dict[str, int] = {}
    with _progress() as bar:

        def report(dataset: str, done: int, total: int) -> None:
            if dataset not in tasks:
                tasks[dataset] = bar.add_task(dataset, total=total)
            bar.update(tasks[dataset], completed=done)

        yield report


def generate_with_progress(args: argparse.Namespace) -> generation.DayResult:
    datasets = [args.dataset] if args.dataset else None
    formats = {args.dataset or d: args.format for d in generation.DATASETS} if args.format else None
    with day_progress() as report:
        return generation.generate_day(
            args.ds,
            args.out,
            scale_factor=args.scale,
            seed=args.seed,
            formats=formats,
            datasets=datasets,
            force=args.force,
            defects=parse_defects(args.defects),
            progress=report,
            max_bytes=args.max_bytes,
        )


def print_generation_summary(day: generation.DayResult) -> None:
    table = Table(title=f"Generated ds={day.ds} into {day.out_dir}")
    for col in ("dataset", "file", "rows", "size", "seconds", "status", "injected defects"):
        numeric = col in {"rows", "size", "seconds"}
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col != "injected defects")
    for r in day:
        defects = ", ".join(f"{k}={v}" for k, v in r.defect_counts.items()) or "-"
        table.add_row(
            r.dataset,
            r.path.rsplit("/", 1)[-1],
            f"{r.rows:,}",
            _human_bytes(r.bytes),
            f"{r.seconds:.2f}",
            "skipped" if r.skipped else "written",
            defects,
        )
    console.print(table)
    written = [r for r in day if not r.skipped]
    seconds = sum(r.seconds for r in written)
    rate = sum(r.rows for r in written) / seconds if seconds > 0 else 0
    console.print(
        f"{day.rows:,} rows, {_human_bytes(day.bytes)}"
        + (f"; {rate:,.0f} rows/s" if written else "; nothing to do")
    )


def cmd_generate(args: argparse.Namespace) -> int:
    day = generate_with_progress(args)
    print_generation_summary(day)
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    if args.in_process:
        from . import pipeline

        console.rule(f"marketing pipeline (in process), ds={args.ds}, scale {args.scale}")
        with day_progress() as report:
            run = pipeline.run_day(
                args.ds, data_dir=args.out, scale_factor=args.scale, seed=args.seed,
                defects=parse_defects(args.defects), store=args.store, progress=report,
            )
        print_day_summary(run.summary())
        return 0
    return run_pipeline_dag(args)


@contextlib.contextmanager
def _output_to(path: str):
    """Sends this process's stdout and stderr (file descriptors too: Airflow's and dbt's
    logs) to ``path`` for the duration, so the terminal shows only the summary."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_pipeline_dag(args: argparse.Namespace) -> int:
    """Runs the ``marketing_pipeline`` DAG for one day with real Airflow (``dag.test()``,
    SQLite metadata under ``--out``), then prints its summary and task states."""
    from .airflow import local
    from .pipeline import DayPaths

    paths = DayPaths.of(args.out)
    local.configure(data_dir=paths.root)
    log_path = paths.root / "airflow" / f"marketing_pipeline_{args.ds}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    conf = {"ds": args.ds, "scale_factor": args.scale, "seed": args.seed, "data_dir": str(paths.root),
            "defects": parse_defects(args.defects) or {}}
    if args.store:
        conf["store"] = args.store
    console.rule(f"Airflow DAG marketing_pipeline, ds={args.ds}, scale {args.scale}")
    console.print(f"Airflow home {os.environ['AIRFLOW_HOME']}; task logs in {log_path}")
    with console.status("running the DAG (generate, validate, upload, load, dbt build)..."):
        with _output_to(str(log_path)):
            local.ensure_database()
            run = local.run_dag("marketing_pipeline", ds=args.ds, conf=conf)
    tasks = Table(title=f"Tasks of the DAG run: {run.state}")
    for col in ("task", "state", "tries"):
        tasks.add_column(col)
    for task_id, state in run.task_states.items():
        colour = {"success": "green", "skipped": "dim", "failed": "red", "upstream_failed": "red"}.get(state, "yellow")
        tasks.add_row(task_id, f"[{colour}]{state}[/]", str(run.try_numbers.get(task_id, "")))
    console.print(tasks)
    summary = run.xcom("summarize")
    if summary:
        print_day_summary(summary)
    if not run.succeeded:
        console.print(f"[bold red]the DAG run {run.state}[/]; see {log_path}")
        return 1
    return 0


def cmd_airflow_ui(args: argparse.Namespace) -> int:
    """Starts ``airflow standalone`` (API server + UI, scheduler, DAG processor,
    triggerer) on 127.0.0.1 over the same Airflow home and DAGs as ``pipeline``."""
    from .airflow import local

    local.configure(data_dir=args.out)
    os.environ.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    os.environ.setdefault("AIRFLOW__API__PORT", str(args.port))
    local.ensure_database()
    console.print(f"Airflow home {os.environ['AIRFLOW_HOME']}, DAGs from {os.environ['AIRFLOW__CORE__DAGS_FOLDER']}; "
                  f"UI on http://127.0.0.1:{os.environ['AIRFLOW__API__PORT']} (the admin password is printed below "
                  "and kept in simple_auth_manager_passwords.json.generated in the Airflow home)")
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    os.execv(airflow, [airflow, "standalone"])
    return 0  # pragma: no cover - exec does not return


def print_day_summary(summary: dict) -> None:
    """Prints ``pipeline.day_summary`` (from ``run_day`` or the Airflow DAG's last task)."""
    rows = Table(title=f"Rows per dataset and stage, ds={summary['ds']}")
    for col in ("dataset", "generated", "valid", "quarantined", "loaded", "failed checks", "new signatures"):
        rows.add_column(col, justify="left" if col in ("dataset", "failed checks") else "right")

    def num(v):
        return "-" if v is None else f"{v:,}"

    for d in summary["datasets"]:
        failed = ", ".join(f"{k}={v}" for k, v in d["failed_checks"].items()) or "-"
        rows.add_row(d["dataset"], num(d["generated"]) + (" (kept)" if d["generated_skipped"] else ""),
                     num(d["rows_valid"]), num(d["rows_invalid"]), num(d["loaded"]), failed, str(d["new_failures"]))
    console.print(rows)
    failures = summary["new_failures"]
    if failures:
        console.print(f"[bold yellow]Data-quality alert: {len(failures)} new failure signature(s)[/] "
                      + (f"sent via {', '.join(summary['alerts'])}: " if summary["alerts"] else ": ")
                      + "; ".join(f"{f['dataset']} {f['check']} ({f['rows_failed']} rows)" for f in failures))
    else:
        console.print("No new failure signatures: no data-quality alert.")
    for name, up in summary["uploads"].items():
        counts = ", ".join(f"{k} {v}" for k, v in up["counts"].items() if v) or "nothing to do"
        console.print(f"Upload {name.replace('_', ' ')} to {up.get('store') or up['bucket']}: {counts} "
                      f"({_human_bytes(up['bytes_sent'])} sent)")
    if summary.get("marts"):
        marts = Table(title="Warehouse marts")
        marts.add_column("mart")
        marts.add_column("rows", justify="right")
        for name, n in summary["marts"].items():
            marts.add_row(name, f"{n:,}")
        console.print(marts)
    k = summary.get("kpis")
    if k and k.get("sessions"):
        console.print(
            f"KPIs for {k['ds']}: {k['sessions']:,} sessions, bounce rate {k['bounce_rate']:.1%}, "
            f"avg session {k['avg_session_duration_seconds']:.0f} s, {k['pages_per_session']:.2f} pages/session, "
            f"{k['form_fills']:,} form fills, conversion {k['conversion_rate']:.2%}, "
            f"est. pipeline value ${k['estimated_pipeline_value']:,.0f}"
        )
        if k.get("top_campaign"):
            t = k["top_campaign"]
            console.print(f"Top campaign: {t['campaign_id']} {t['campaign_name']} (${t['estimated_pipeline_value']:,.0f})")


def print_validation_report(report: validation.ValidationReport) -> None:
    name = report.source.rsplit("/", 1)[-1]
    table = Table(
        title=f"{name}: {report.rows_in:,} rows in, {report.rows_valid:,} valid, "
        f"{report.rows_invalid:,} quarantined — {report.status}"
    )
    for col in ("check", "severity", "rows failed", "status", "new", "samples / message"):
        table.add_column(col, justify="right" if col == "rows failed" else "left", no_wrap=col != "samples / message")
    colours = {"passed": "green", "failed": "bold red", "error": "bold red", "warn": "yellow", "tolerated": "yellow", "skipped": "dim"}
    for c in report.checks:
        if c.status == "passed" and c.rows_failed == 0 and c.check in ("type", "parse"):
            continue  # keep the table short: silent casts and parses are not news
        detail = c.message or ", ".join(repr(s) for s in c.samples[:3])
        table.add_row(
            c.label,
            c.severity,
            f"{c.rows_failed:,}",
            f"[{colours.get(c.status, 'white')}]{c.status}[/]",
            "new" if c.is_new else "",
            detail,
        )
    console.print(table)


def cmd_validate(args: argparse.Namespace) -> int:
    """Exit status: 0 when every file passed (warnings allowed), 1 when a check of
    severity error failed in any file, 2 on a usage error or an unreadable file."""
    paths = []
    for p in args.paths:
        if os.path.isdir(p):
            paths.extend(validation.day_files(p, args.ds))
        else:
            paths.append(p)
    if not paths:
        console.print("[bold red]error:[/] no dataset files to validate")
        return 2
    worst = 0
    for p in paths:
        report = validation.validate(
            p,
            args.dataset,
            ds=args.ds,
            contract=args.contract,
            out_dir=args.out,
            output_format=args.format,
            metadata=args.metadata,
        )
        if args.json:
            print(report.to_json())
        else:
            print_validation_report(report)
        if not report.passed:
            worst = 1
    return worst

def cmd_domains(args: argparse.Namespace) -> int:
    """The shipped domains, then those of --domain folders: name, source, datasets."""
    loaded = [domains.load_domain(d) for d in [*domains.list_domains(), *args.domain]]
    if args.json:
        print(json.dumps([
            {"name": d.name, "source": d.source, "partitioning": d.partitioning, "root": d.root,
             "datasets": d.dataset_names}
            for d in loaded
        ], indent=2))
        return 0
    table = Table(title="domains")
    for column in ("domain", "source", "partitioning", "datasets"):
        table.add_column(column)
    for d in loaded:
        table.add_row(escape(d.name), d.source, d.partitioning, escape(", ".join(d.dataset_names)))
    console.print(table)
    return 0


def upload_with_progress(args: argparse.Namespace) -> storage.UploadReport:
    from rich.progress import DownloadColumn, TransferSpeedColumn

    overrides = {}
    if args.endpoint_url:
        overrides["endpoint_url"] = args.endpoint_url
    if args.region:
        overrides["region"] = args.region
    if args.allow_http:
        overrides["allow_http"] = True
    if args.virtual_hosted:
        overrides["path_style"] = False
    if args.conditional_writes:
        overrides["conditional_writes"] = args.conditional_writes
    if args.airflow_conn:
        store = storage.store_from_airflow_connection(args.airflow_conn)
        from dataclasses import replace

        store = replace(store, **overrides) if overrides else store
    else:
        store = storage.store_from_env(args.store, **overrides)
    bar = Progress(
        TextColumn("[bold]{task.description:<8}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    files_bar = Progress(TextColumn("[bold]{task.description:<8}"), BarColumn(), MofNCompleteColumn(), console=console)
    tasks: dict[str, int] = {}
    from rich.console import Group
    from rich.live import Live

    with Live(Group(bar, files_bar), console=console, refresh_per_second=8):

        def report(bytes_done: int, bytes_total: int, files_done: int, files_total: int) -> None:
            if not tasks:
                tasks["bytes"] = bar.add_task("bytes", total=bytes_total)
                tasks["files"] = files_bar.add_task("files", total=files_total)
            bar.update(tasks["bytes"], completed=bytes_done)
            files_bar.update(tasks["files"], completed=files_done)

        return storage.upload(
            args.sources,
            bucket=args.bucket,
            kind=args.kind,
            dataset=args.dataset,
            ds=args.ds,
            prefix=args.prefix,
            store=store,
            policy=args.policy,
            concurrency=args.concurrency,
            metadata=args.metadata,
            progress=report,
            raise_on_error=False,
        )


def print_upload_summary(report: storage.UploadReport) -> None:
    table = Table(title=f"Upload to {report.store}")
    for col in ("file", "key", "size", "seconds", "status", "md5 / error"):
        table.add_column(col, justify="right" if col in {"size", "seconds"} else "left", overflow="fold")
    for f in report:
        table.add_row(
            f.source.rsplit("/", 1)[-1],
            f.key,
            _human_bytes(f.bytes),
            f"{f.seconds:.2f}",
            f.status,
            f.error or f.md5 or "-",
        )
    console.print(table)
    counts = report.counts()
    console.print(
        ", ".join(f"{n} {s}" for s, n in counts.items())
        + f"; {_human_bytes(report.bytes_sent)} sent in {report.seconds:.2f} s"
    )


def cmd_upload(args: argparse.Namespace) -> int:
    report = upload_with_progress(args)
    print_upload_summary(report)
    try:
        report.raise_for_status(conflicts=True)
    except MarketingCoreError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    return 0


def _add_generation_args(p: argparse.ArgumentParser, *, out_default: str | None) -> None:
    p.add_argument("--ds", default="2025-05-25", help="day to generate (YYYY-MM-DD)")
    p.add_argument("--scale", type=float, default=1.0, help="scale factor (> 0)")
    p.add_argument("--seed", type=int, default=generation.DEFAULT_SEED)
    p.add_argument("--out", default=out_default, required=out_default is None, help="output directory")
    p.add_argument("--dataset", choices=generation.DATASETS, help="only this dataset")
    p.add_argument("--format", choices=("csv", "json", "parquet"), help="file format override")
    p.add_argument("--defects", help="inject defects: KIND=RATE,... or a JSON object")
    p.add_argument("--force", action="store_true", help="regenerate even when unchanged")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketing-core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate one day of the marketing datasets")
    _add_generation_args(g, out_default=None)
    g.add_argument("--max-bytes", type=int, metavar="N",
                   help=f"refuse output estimated above N bytes (default: ${settings.MAX_OUTPUT_BYTES.name}, "
                   "else the free disk space of --out)")
    g.set_defaults(func=cmd_generate)
    p = sub.add_parser("pipeline", help="run the pipeline for one day on the embedded defaults")
    _add_generation_args(p, out_default="data")
    p.add_argument("--store", help="s3://... to upload to MinIO/S3 (default: a file:// bucket under --out)")
    p.add_argument("--in-process", action="store_true",
                   help="run the steps directly in this process instead of through the Airflow DAG")
    p.set_defaults(func=cmd_pipeline)
    a = sub.add_parser("airflow-ui", help="start Airflow locally (airflow standalone) with the marketing DAGs")
    a.add_argument("--out", default="data", help="data directory (the Airflow home is <out>/airflow)")
    a.add_argument("--port", type=int, default=8080)
    a.set_defaults(func=cmd_airflow_ui)
    v = sub.add_parser(
        "validate",
        help="validate files against their contracts (exit 1 when an error-severity check fails)",
    )
    v.add_argument("paths", nargs="+", help="dataset files, or directories of a day's files")
    v.add_argument("--dataset", choices=generation.DATASETS, help="dataset (default: from the file name)")
    v.add_argument("--ds", help="the day (default: from the file name)")
    v.add_argument("--contract", help="a contract file (.json/.yaml) instead of the shipped default")
    v.add_argument("--out", help="write valid-data/, quarantine-data/ and dq-reports/ under this directory")
    v.add_argument("--format", choices=("csv", "json", "parquet"), help="output format (default: the input's)")
    v.add_argument("--metadata", help="SQLite metadata store to record checks and signatures in")
    v.add_argument("--json", action="store_true", help="print the reports as JSON")
    v.set_defaults(func=cmd_validate)
    dm = sub.add_parser("domains", help="list the domains: name, source, datasets in dependency order")
    dm.add_argument("--domain", action="append", default=[], metavar="PATH",
                    help="also a domain folder of your own (repeatable)")
    dm.add_argument("--json", action="store_true", help="print the domains as JSON")
    dm.set_defaults(func=cmd_domains)
    u = sub.add_parser("upload", help="upload files idempotently to S3 / MinIO or a file:// bucket")
    u.add_argument("sources", nargs="+", help="files or directories (hidden entries are skipped)")
    u.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
    u.add_argument("--kind", choices=layout.KINDS,
                   help="layout prefix (default: the file's valid-data/, quarantine-data/ or dq-reports/ "
                   "folder, else its name)")
    u.add_argument("--dataset", help="dataset for every file (default: from file names)")
    u.add_argument("--ds", help="day for every file (default: from file names)")
    u.add_argument("--prefix", help="plain key prefix instead of the dataset layout")
    u.add_argument("--store", help=f"s3:// or file://DIR (default: ${settings.STORE_URL.name}, "
                   "s3:// when $AWS_ENDPOINT_URL is set, else file://object-store)")
    u.add_argument("--endpoint-url", help="S3 endpoint, e.g. http://127.0.0.1:9000 for MinIO")
    u.add_argument("--region")
    u.add_argument("--allow-http", action="store_true", help="allow plain HTTP to the endpoint")
    u.add_argument("--virtual-hosted", action="store_true", help="virtual-hosted-style requests (default: path style)")
    u.add_argument("--airflow-conn", help="take endpoint and credentials from this Airflow aws connection")
    u.add_argument("--conditional-writes", choices=("require", "assume"),
                   help="require (default): first prove the S3 server honours If-None-Match/If-Match, refuse "
                   "to upload where it does not; assume: skip that probe (no exactly-once guarantee there)")
    u.add_argument("--policy", choices=("refuse", "replace"), default="refuse",
                   help="a key holding other content: refuse (conflict) or replace (conditional on its ETag)")
    u.add_argument("--concurrency", type=int, default=16, help="files in flight")
    u.add_argument("--metadata", help="SQLite metadata store to log attempts into (file_metadata)")
    u.set_defaults(func=cmd_upload)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (MarketingCoreError, argparse.ArgumentTypeError, ValueError) as exc:
        # One line, no traceback: the message names the file and the cause. Escaped, as a
        # path may contain [brackets]; not wrapped, so logs keep it on one line.
        console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
