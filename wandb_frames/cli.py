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

from wandb_frames.version import __version__
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

FORMATS = ("csv", "json", "ndjson", "parquet")
_SUFFIXES = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
             ".parquet": "parquet", ".pq": "parquet"}

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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")

    runs = sub.add_parser("runs", parents=[debug], help="list runs of a project as a table")
    runs.add_argument("path", help="ENTITY/PROJECT")
    _add_query_arguments(runs)
    runs.add_argument("--columns", nargs="+", default=None, help="columns or globs to keep")
    runs.add_argument("--limit", type=int, default=None, help="stop after this many runs")
    runs.add_argument("-o", "--output", default="-", help="a file (format from its suffix) or - for stdout")
    runs.add_argument("--format", choices=FORMATS, default=None,
                      help="csv, json, ndjson or parquet (default: from --output's suffix; csv on stdout)")
    runs.add_argument("--offline", action="store_true",
                      help="answer from the on-disk cache only (no request)")

    history = sub.add_parser("history", parents=[debug],
                             help="metric histories of the matching runs (long format)")
    history.add_argument("path", help="ENTITY/PROJECT")
    _add_query_arguments(history)
    history.add_argument("--keys", nargs="+", default=None, help="metrics to fetch (default: all)")
    history.add_argument("--samples", type=int, default=None, help="deterministic downsampling per run")
    history.add_argument("--limit", type=int, default=None, help="at most this many runs")
    history.add_argument("-o", "--output", default="-", help="a file (format from its suffix) or - for stdout")
    history.add_argument("--format", choices=FORMATS, default=None,
                         help="csv, json, ndjson or parquet (default: from --output's suffix; csv on stdout)")

    cache = sub.add_parser("cache", parents=[debug], help="the on-disk runs cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    info = cache_sub.add_parser("info", parents=[debug], help="list cached projects")
    clear = cache_sub.add_parser("clear", parents=[debug], help="delete cached projects")
    clear.add_argument("path", nargs="?", default=None, help="ENTITY/PROJECT or ENTITY (default: all)")
    for command in (info, clear):
        command.add_argument("--cache-dir", default=None,
                             help="cache directory (default: WANDB_FRAMES_CACHE_DIR or ~/.cache/wandb-frames)")

    serve = sub.add_parser("serve", parents=[debug], help="run the local W&B-compatible server")
    serve.add_argument(
        "source", nargs="?", default=None,
        help="a folder of offline runs (e.g. ./wandb) to serve; default: an empty server",
    )
    serve.add_argument("--demo", action="store_true", help="seed it with demo data")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--runs", type=int, default=None, help="number of demo runs")
    serve.add_argument(
        "--history-steps", type=int, default=100, help="history steps per demo run (default 100)"
    )
    serve.add_argument("--api-key", default=None)
    return parser


def _add_query_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--filter", dest="filter_json", default=None, help="Mongo-style filter as JSON")
    group.add_argument("--where", default=None, help="filter as a Python expression")
    parser.add_argument("--order", default="+created_at", help="e.g. -summary_metrics.loss")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--cache", nargs="?", const=True, default=None, metavar="DIR",
        help="use the on-disk runs cache (optionally in DIR; see docs/cache.md)",
    )


def filter_from_args(args: argparse.Namespace) -> Any:
    """The filter given by ``--filter`` (JSON) or ``--where`` (expression), or None."""
    if args.filter_json is not None:
        try:
            return json.loads(args.filter_json)
        except json.JSONDecodeError as exc:
            raise FilterError(f"--filter is not valid JSON: {exc.msg} at column {exc.colno}") from exc
        except RecursionError:
            raise FilterError("--filter is nested too deeply to decode") from None
    return args.where


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = get_parser()
    try:
        args = parser.parse_args(_attach_order(sys.argv[1:] if argv is None else list(argv)))
    except SystemExit as exc:  # argparse printed usage (exit 2) or --help (exit 0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
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


def _attach_order(argv: list[str]) -> list[str]:
    """``--order -summary.loss`` → ``--order=-summary.loss`` (argparse reads ``-x`` as an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--order" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"--order={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug:
        traceback.print_exception(exc, file=sys.stderr)
    else:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [""]
        message = lines[0] if len(lines) == 1 else f"{lines[0]}: {lines[1]}"  # no caret lines
        print(f"wandb-frames: {type(exc).__name__}: {message}", file=sys.stderr)
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
        if args.demo:
            serve_argv += ["--history-steps", str(args.history_steps)]
        if args.api_key is not None:
            serve_argv += ["--api-key", args.api_key]
        serve_argv += ["--host", args.host]
        return serve_main(serve_argv)
    if args.command == "cache":
        return _cache_command(args)
    import wandb_frames as wf

    filters = filter_from_args(args)
    offline = bool(getattr(args, "offline", False))
    cache: Any = args.cache
    if offline and cache is None:
        cache = True
    if args.command in ("runs", "history"):
        from wandb_frames.graphql.plan import plan_query

        plan_query(filters, args.order)  # a bad filter or order fails before any request
        args.format = _output_format(args.output, args.format)
        samples = getattr(args, "samples", None)
        if samples is not None and samples < 2:
            raise ConfigurationError(f"--samples must be at least 2 (got {samples})")
    api = wf.Api(cache=cache)
    progress = False if args.no_progress else None
    if args.command == "runs":
        runs = api.runs(
            args.path, filters=filters, order=args.order, limit=args.limit,
            columns=args.columns, progress=progress, offline=offline,
        )
        table = runs.to_arrow()
        _write_table(table, args.output, args.format, lambda path: runs.to_parquet(path))
        return EXIT_OK
    if args.command == "history":
        runs = api.runs(args.path, filters=filters, order=args.order, limit=args.limit, progress=progress)
        histories = runs.history_frames(keys=args.keys, samples=args.samples)
        _write_table(histories.to_arrow(), args.output, args.format, lambda path: histories.to_parquet(path))
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


def _cache_command(args: argparse.Namespace) -> int:
    """``cache info`` (one line per cached project) and ``cache clear [ENTITY[/PROJECT]]``."""
    from wandb_frames.cache.store import RunsCache

    cache = RunsCache(args.cache_dir)
    if args.cache_command == "info":
        items = cache.info()
        print(f"cache directory: {cache.directory} ({len(items)} entries)", file=sys.stderr)
        for item in items:
            state = "complete" if item.complete else "partial"
            print(f"{item.server}\t{item.entity}/{item.project}\t{item.rows} runs\t{state}\t"
                  f"{item.size} bytes\tfetched {item.fetched_at}")
        return EXIT_OK
    entity = project = None
    if args.path:
        parts = [p for p in args.path.strip("/").split("/") if p]
        if len(parts) > 2:
            raise ConfigurationError(f"cache clear takes ENTITY or ENTITY/PROJECT, got {args.path!r}")
        entity = parts[0]
        project = parts[1] if len(parts) == 2 else None
    removed = cache.clear(entity, project)
    print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} from {cache.directory}",
          file=sys.stderr)
    return EXIT_OK


def _output_format(output: str, given: str | None) -> str:
    """The output format: ``--format``, else the suffix of ``--output``, else CSV on stdout.

    Raises:
        ConfigurationError: a file whose suffix names no format, without ``--format``
            (before anything is fetched).
    """
    if given is not None:
        return given
    if output == "-":
        return "csv"
    found = _SUFFIXES.get(Path(output).suffix.lower())
    if found is None:
        raise ConfigurationError(
            f"--output {output!r}: end it in .parquet, .csv, .json or .ndjson, or pass --format")
    return found


def _write_table(table: Any, output: str, fmt: str = "csv", to_parquet: Any = None) -> None:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from wandb_frames.export import write_parquet

    to_stdout = output == "-"
    if fmt == "parquet":
        if to_stdout:
            pq.write_table(table, sys.stdout.buffer)
        elif to_parquet is not None:
            to_parquet(Path(output))  # with provenance (server, project, filters, fetch time)
        else:
            write_parquet(table, Path(output))
    elif fmt == "csv":
        pa_csv.write_csv(_csv_safe(table), sys.stdout.buffer if to_stdout else Path(output))
    else:
        text = _json_text(table, lines=fmt == "ndjson")
        if to_stdout:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            Path(output).write_text(text, encoding="utf-8")
    if not to_stdout:
        print(f"wrote {table.num_rows} rows to {output}", file=sys.stderr)


def _json_value(value: Any) -> Any:
    """A cell as JSON: timestamps as ISO text, NaN/±inf as null (JSON has no such numbers)."""
    import math
    from datetime import date, datetime

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _json_text(table: Any, *, lines: bool) -> str:
    """Rows as a JSON array (``lines=False``) or newline-delimited JSON objects."""
    rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
    if lines:
        return "".join(json.dumps(row, allow_nan=False) + "\n" for row in rows)
    return json.dumps(rows, allow_nan=False) + "\n"


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
