"""The ``wandb-frames`` command: a thin shell over the public API.

Exit codes: 0 success, 1 API or I/O failure, 2 bad usage or a bad filter. Errors are
printed as one line on stderr (the traceback only with ``--debug``); progress goes to
stderr, data to stdout or files.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wandb_frames.errors import (
    ApiError,
    CacheError,
    ConfigurationError,
    ExportError,
    FilterError,
    IncompleteResultError,
    WandbFramesError,
)

__all__ = ["get_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def get_parser() -> argparse.ArgumentParser:
    """Build the argument parser (pure: no I/O)."""
    parser = argparse.ArgumentParser(
        prog="wandb-frames",
        description="W&B runs and histories as typed tables (parquet, CSV).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    runs = sub.add_parser("runs", help="list runs of a project as a table")
    runs.add_argument("path", help="ENTITY/PROJECT")
    _add_query_arguments(runs)
    runs.add_argument("--columns", nargs="+", default=None, help="columns or globs to keep")
    runs.add_argument("--limit", type=int, default=None, help="stop after this many runs")
    runs.add_argument("-o", "--output", default="-", help="out.parquet, out.csv, or - for CSV on stdout")

    history = sub.add_parser("history", help="metric histories of the matching runs (long format)")
    history.add_argument("path", help="ENTITY/PROJECT")
    _add_query_arguments(history)
    history.add_argument("--keys", nargs="+", default=None, help="metrics to fetch (default: all)")
    history.add_argument("--samples", type=int, default=None, help="deterministic downsampling per run")
    history.add_argument("--limit", type=int, default=None, help="at most this many runs")
    history.add_argument("-o", "--output", default="-", help="out.parquet, out.csv, or - for CSV on stdout")

    serve = sub.add_parser("serve", help="run the local W&B-compatible server")
    serve.add_argument(
        "source", nargs="?", default=None,
        help="a folder of offline runs (e.g. ./wandb) to serve; default: an empty server",
    )
    serve.add_argument("--demo", action="store_true", help="seed it with demo data")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--runs", type=int, default=None, help="number of demo runs")
    serve.add_argument("--api-key", default=None)
    return parser


def _add_query_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--filter", dest="filter_json", default=None, help="Mongo-style filter as JSON")
    group.add_argument("--where", default=None, help="filter as a Python expression")
    parser.add_argument("--order", default="+created_at", help="e.g. -summary_metrics.loss")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def filter_from_args(args: argparse.Namespace) -> Any:
    """The filter given by ``--filter`` (JSON) or ``--where`` (expression), or None."""
    if args.filter_json is not None:
        try:
            return json.loads(args.filter_json)
        except json.JSONDecodeError as exc:
            raise FilterError(f"--filter is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    return args.where


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = get_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (FilterError, ConfigurationError) as exc:
        return _fail(args, exc, EXIT_USAGE)
    except (ApiError, ExportError, CacheError, IncompleteResultError, OSError) as exc:
        return _fail(args, exc, EXIT_FAILURE)
    except WandbFramesError as exc:
        return _fail(args, exc, EXIT_FAILURE)
    except KeyboardInterrupt:
        return 130


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug:
        traceback.print_exception(exc, file=sys.stderr)
    else:
        print(f"wandb-frames: {type(exc).__name__}: {exc}", file=sys.stderr)
    return code


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from wandb_frames.testing.serve import main as serve_main

        if args.source is not None:
            return _serve_offline(args)
        serve_argv: list[str] = []
        if args.demo:
            serve_argv.append("--demo")
        if args.port is not None:
            serve_argv += ["--port", str(args.port)]
        if args.runs is not None:
            serve_argv += ["--runs", str(args.runs)]
        if args.api_key is not None:
            serve_argv += ["--api-key", args.api_key]
        serve_argv += ["--host", args.host]
        return serve_main(serve_argv)
    import wandb_frames as wf

    api = wf.Api()
    filters = filter_from_args(args)
    progress = False if args.no_progress else None
    if args.command == "runs":
        runs = api.runs(
            args.path, filters=filters, order=args.order, limit=args.limit,
            columns=args.columns, progress=progress,
        )
        table = runs.to_arrow()
        _write_table(table, args.output)
        return EXIT_OK
    if args.command == "history":
        runs = api.runs(args.path, filters=filters, order=args.order, limit=args.limit, progress=progress)
        histories = runs.histories(keys=args.keys, samples=args.samples)
        _write_table(histories.to_arrow(), args.output)
        return EXIT_OK
    raise ConfigurationError(f"unknown command {args.command!r}")


def _serve_offline(args: argparse.Namespace) -> int:
    """Serve a folder of offline runs until interrupted."""
    import threading

    from wandb_frames.offline import add_offline_runs
    from wandb_frames.testing import LocalServer

    source = Path(args.source)
    if not source.is_dir():
        raise ConfigurationError(f"{source} is not a folder of offline runs")
    server = LocalServer(port=args.port, api_key=args.api_key, host=args.host, entity="offline")
    with server:
        counts = add_offline_runs(server, source)
        for (entity, project), n in sorted(counts.items()):
            print(f"serving {n} run(s) as {entity}/{project}", file=sys.stderr)
        print(f"URL {server.url}", flush=True)
        print(f"KEY {server.api_key}", flush=True)
        threading.Event().wait()
    return EXIT_OK


def _write_table(table: Any, output: str) -> None:
    import pyarrow.csv as pa_csv

    from wandb_frames.export import write_parquet

    if output == "-":
        pa_csv.write_csv(_csv_safe(table), sys.stdout.buffer)
        return
    path = Path(output)
    if path.suffix == ".csv":
        pa_csv.write_csv(_csv_safe(table), path)
    elif path.suffix in {".parquet", ".pq"}:
        write_parquet(table, path)
    else:
        raise ConfigurationError(f"--output must end in .parquet or .csv, got {output!r}")
    print(f"wrote {table.num_rows} rows to {path}", file=sys.stderr)


def _csv_safe(table: Any) -> Any:
    """CSV cannot hold lists: list columns become their JSON text."""
    import pyarrow as pa

    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            values = [None if v is None else json.dumps(v) for v in column.to_pylist()]
            columns.append(pa.array(values, type=pa.string()))
        else:
            columns.append(column)
    return pa.table(columns, names=table.column_names)


if __name__ == "__main__":
    raise SystemExit(main())
