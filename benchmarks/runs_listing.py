"""Benchmark: a project's runs into a DataFrame (GitHub issue 3), every contender in ONE run.

The local server runs in its own process (``python -m wandb_frames.testing serve --runs-only``,
10,000 runs x ~220 leaves by default: nested config, summaries with media dicts). Each
contender runs in a fresh interpreter (this script re-launched with ``--child``), after
``import pandas`` (and ``import wandb`` for the official client); its wall time, CPU time
(user+sys of the child **and its descendants**, i.e. ``wandb-core``) are measured in the child
by :class:`official_contenders.ResourceMeter`; its peak RSS (sum over the process tree, never
below the child's own ``ru_maxrss``) is sampled every 20 ms from this parent process
(:class:`official_contenders.TreeRssSampler`), so no sampling thread competes for the child's
GIL. The server's CPU time during each contender is reported too.

Contenders (``--contenders`` picks a subset):

- ``floor``: the same ``RunsPage`` document and page size as wandb-frames, posted with
  ``requests`` and parsed with ``orjson``, nothing else; same ``Accept-Encoding`` as our
  transport sends to this server;
- ``floor+inner``: ``floor`` plus decoding the JSON strings inside the JSON (``config``,
  ``summaryMetrics``, ``systemMetrics``; ``orjson``, ``json`` for W&B's ``NaN``): the minimum
  needed to *have* the values;
- ``floor(gzip)``: ``floor`` asking for gzip (to show what compression costs on loopback);
- ``wandb_frames``: ``Api().runs(path, per_page=P).to_pandas()``;
- ``wandb_frames(sequential)``: the same decoding (``TableAssembler.add_nodes``, GC paused per
  page) over the one-page-at-a-time stream (``prefetch(iter_node_pages)``: page ``k + 1`` is
  requested once page ``k`` is fully read), to show what the pipelined listing gains (see
  :func:`_sequential`);
- ``wandb_frames(concurrency=4)`` (not in the default set): the ID listing + ``$in`` batches on
  four threads (``Runs(concurrency=4)``), for high-latency links;
- ``official lazy=False``: ``wandb==0.31.0``, ``api.runs(path, per_page=P, lazy=False)`` +
  ``pd.json_normalize``;
- ``official recipe`` / ``wandb_frames@recipe``: the W&B docs export recipe (one query per run)
  and wandb-frames on the first ``--recipe-runs`` runs (1,000).

Usage::

    .venv/bin/python benchmarks/runs_listing.py                          # 10,000 runs, everything
    .venv/bin/python benchmarks/runs_listing.py --runs 100000 --contenders floor,floor+inner,wandb_frames
    .venv/bin/python benchmarks/runs_listing.py --runs 50 --recipe-runs 10 --repeat 1   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENTITY, PROJECT = "demo", "sweep-demo"
KEY = "local-" + "b" * 40
ALL = ("floor", "floor+inner", "floor(gzip)", "wandb_frames", "wandb_frames(sequential)", "official lazy=False",
       "wandb_frames@recipe", "official recipe")


# ---------------------------------------------------------------- contenders (child side)
def _meter() -> Any:
    sys.path.insert(0, HERE)
    from official_contenders import ResourceMeter

    return ResourceMeter()


def _measure(fn: Callable[[], tuple[int, int]]) -> dict[str, Any]:
    meter = _meter()
    meter.start()
    main = time.thread_time()
    try:
        rows, columns = fn()
    finally:
        main = time.thread_time() - main
        meter.stop()
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"wall_s": meter.wall_s, "cpu_s": meter.cpu_s, "main_cpu_s": main,
            "peak_rss_mb": max(meter.peak_rss, own_peak) / 2**20, "rows": rows, "columns": columns}


def _floor(url: str, per_page: int, limit: int | None, *, inner: bool, gzip: bool) -> dict[str, Any]:
    import json as std_json

    import orjson
    import requests

    from wandb_frames.graphql.documents import RUNS_PAGE

    try:
        from wandb_frames.graphql.transport import accept_encoding
    except ImportError:  # a checkout from before the loopback rule always asked for gzip
        encoding = "gzip, deflate"
    else:
        encoding = "gzip, deflate" if gzip else accept_encoding(url)

    def loads(text: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return std_json.loads(text, strict=False)

    def run() -> tuple[int, int]:
        session = requests.Session()
        session.auth = ("api", KEY)
        headers = {"Content-Type": "application/json", "Accept-Encoding": encoding}
        variables: dict[str, Any] = {
            "entity": ENTITY, "project": PROJECT, "filters": "{}", "order": "+created_at",
            "configKeys": None, "summaryKeys": None, "withConfig": True, "withSummary": True,
            "withSystem": True, "withCount": True, "withMetadata": False,
            "metadataNames": ["wandb-metadata.json"], "first": per_page, "after": None,
        }
        rows = 0
        values = 0
        while True:
            body = orjson.dumps({"query": RUNS_PAGE.text, "variables": variables,
                                 "operationName": RUNS_PAGE.operation})
            resp = session.post(f"{url}/graphql", data=body, headers=headers, timeout=300)
            resp.raise_for_status()
            runs = orjson.loads(resp.content)["data"]["project"]["runs"]
            edges = runs["edges"]
            if inner:
                for edge in edges:
                    node = edge["node"]
                    for field in ("config", "summaryMetrics", "systemMetrics"):
                        node[field] = loads(node[field])
                    values += len(node["config"]) + len(node["summaryMetrics"])
            rows += len(edges)
            variables["withCount"] = False
            if not runs["pageInfo"]["hasNextPage"] or (limit is not None and rows >= limit):
                return rows, values // max(rows, 1)
            variables["after"] = edges[-1]["cursor"]

    return _measure(run)


def _ours(url: str, per_page: int, limit: int | None, *, sequential: bool = False,
          concurrency: int = 0) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    from wandb_frames.api import Api

    def run() -> tuple[int, int]:
        api = Api(api_key=KEY, overrides={"base_url": url}, progress=False)
        if sequential:
            df = _sequential(api, per_page)
        else:
            runs = api.runs(f"{ENTITY}/{PROJECT}", per_page=per_page, limit=limit, concurrency=concurrency)
            df = runs.to_pandas()
        return len(df), df.shape[1]

    return _measure(run)


def _sequential(api: Any, per_page: int) -> Any:
    """``Runs.to_pandas()`` (no filter, no limit) over the one-page-at-a-time page stream.

    The same decoding as ``to_pandas()`` (``TableAssembler.add_nodes`` with the GC paused per
    page), the same de-duplication by run ID; pages come from ``prefetch(iter_node_pages)``,
    which requests page ``k + 1`` only once page ``k`` has been read and parsed.
    """
    from wandb_frames.graphql import listing
    from wandb_frames.tabular.gcpause import gc_paused
    from wandb_frames.tabular import TableAssembler, table_to_pandas

    query = listing.ListingQuery(entity=ENTITY, project=PROJECT)
    assembler = TableAssembler()
    seen: set[str] = set()
    pages = listing.prefetch(lambda: listing.iter_node_pages(api.execute, query, per_page))
    while True:
        with gc_paused():
            nodes = next(pages, None)
            if nodes is None:
                break
            fresh = [n for n in nodes if n["name"] not in seen]
            seen.update(n["name"] for n in fresh)
            assembler.add_nodes(fresh, entity=ENTITY, project=PROJECT)
    return table_to_pandas(assembler.finish())


def _official(name: str, url: str, per_page: int, limit: int | None) -> dict[str, Any]:
    sys.path.insert(0, HERE)
    from official_contenders import official_lazy_false, official_recipe

    if name == "official recipe":
        out = official_recipe(url, KEY, ENTITY, PROJECT, limit=limit or 10**9)
    else:
        out = official_lazy_false(url, KEY, ENTITY, PROJECT, per_page=per_page)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": out["wall_s"], "cpu_s": out["cpu_s"], "peak_rss_mb": max(out["peak_rss_mb"], own_peak),
            "rows": out["n_runs"], "columns": out["n_columns"], "api_init_s": out["api_init_s"]}


def child(name: str, url: str, per_page: int, limit: int | None) -> dict[str, Any]:
    """Run one contender in this (fresh) process and return its measurements."""
    import pandas  # noqa: F401  # every contender starts with pandas imported

    if name.startswith("floor"):
        return _floor(url, per_page, limit, inner=name == "floor+inner", gzip=name == "floor(gzip)")
    if name.startswith("wandb_frames"):
        workers = int(name.split("=")[1].rstrip(")")) if "concurrency=" in name else 0
        return _ours(url, per_page, limit, sequential=name == "wandb_frames(sequential)", concurrency=workers)
    return _official(name, url, per_page, limit)


# ---------------------------------------------------------------- orchestration (parent side)
def start_server(runs: int, config_keys: int, summary_keys: int,
                 latency: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    """Start the local server in its own process; return it and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_frames.testing", "serve", "--runs-only", "--demo", "--runs", str(runs),
         "--config-keys", str(config_keys), "--summary-keys", str(summary_keys), "--api-key", KEY,
         "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("URL "):
            return proc, line.split(" ", 1)[1].strip()
    proc.kill()
    raise RuntimeError("the server did not print its URL")


def _server_cpu(pid: int) -> float:
    import psutil  # type: ignore[import-untyped]  # no types-psutil in the venv

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def run_child(name: str, url: str, per_page: int, limit: int | None, server_pid: int) -> dict[str, Any]:
    """Run one contender in a fresh interpreter; return its measurements (+ the server's CPU)."""
    env = {**os.environ, "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    sys.path.insert(0, HERE)
    from official_contenders import PARENT_SAMPLES_ENV, TreeRssSampler

    env[PARENT_SAMPLES_ENV] = "1"  # RSS is sampled from here: no sampling thread in the child
    before = _server_cpu(server_pid)
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", name, "--url", url, "--per-page", str(per_page),
         *(["--limit", str(limit)] if limit is not None else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    with TreeRssSampler(child.pid) as sampler:
        stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{stderr[-3000:]}")
    result = dict(json.loads(stdout.strip().splitlines()[-1]))
    result["peak_rss_mb"] = max(result["peak_rss_mb"], sampler.peak_rss / 2**20)
    result["server_cpu_s"] = _server_cpu(server_pid) - before
    return result


def _print_table(results: list[tuple[str, dict[str, Any]]]) -> None:
    by = dict(results)
    floor = by.get("floor", {}).get("wall_s")
    print(f"{'contender':<26}{'runs':>8}{'cols':>6}{'wall s':>9}{'cpu s':>8}{'srv cpu':>9}"
          f"{'peak MB':>9}{'/floor':>8}")
    for name, r in results:
        ratio = f"{r['wall_s'] / floor:8.2f}" if floor and "recipe" not in name else f"{'':>8}"
        print(f"{name:<26}{r['rows']:>8}{r['columns']:>6}{r['wall_s']:>9.2f}{r['cpu_s']:>8.2f}"
              f"{r['server_cpu_s']:>9.2f}{r['peak_rss_mb']:>9.0f}{ratio}")


def _targets(by: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for label in ("wandb_frames", "wandb_frames(sequential)"):
        lines += _ratios(by, label)
    if "official recipe" in by and "wandb_frames@recipe" in by:
        recipe, small = by["official recipe"], by["wandb_frames@recipe"]
        lines.append(f"official recipe / wandb_frames on {recipe['rows']} runs: "
                     f"{recipe['wall_s'] / small['wall_s']:.0f}x faster (target >= 100x)")
    return lines


def _ratios(by: dict[str, dict[str, Any]], label: str) -> list[str]:
    lines = []
    ours = by.get(label)
    if ours:
        for floor in ("floor", "floor+inner"):
            if floor in by:
                ratio = ours["wall_s"] / by[floor]["wall_s"]
                lines.append(f"{label} wall / {floor}: {ratio:.2f}x (target <= 1.3x)")
        official = by.get("official lazy=False")
        if official:
            lines.append(f"official lazy=False / {label}: {official['wall_s'] / ours['wall_s']:.1f}x "
                         f"faster (target >= 5x)")
            lines.append(f"peak RSS {label} / official: {ours['peak_rss_mb'] / official['peak_rss_mb']:.2f} "
                         f"(target <= 0.5)")
        if "server_cpu_s" in ours:
            lines += _bounds(by, label)
    return lines


def _bounds(by: dict[str, dict[str, Any]], label: str) -> list[str]:
    """What the machine allows: on loopback the client and the server share its cores.

    The whole work (client CPU + server CPU) takes at least its sum over the cores, and the
    table is not ready before the main thread, which decodes every page, is done.
    """
    ours = by[label]
    cores = os.cpu_count() or 1
    total = ours["cpu_s"] + ours["server_cpu_s"]
    main = ours.get("main_cpu_s", 0.0)
    lines = [f"{label}: client CPU {ours['cpu_s']:.2f} s (main thread {main:.2f} s) + server CPU "
             f"{ours['server_cpu_s']:.2f} s = {total:.2f} s on {cores} cores: at best {max(total / cores, main):.2f} s"]
    floor = by.get("floor")
    if floor:
        lines.append(f"{label}: at best {max(total / cores, main) / floor['wall_s']:.2f}x the floor with this CPU "
                     f"(measured {ours['wall_s'] / floor['wall_s']:.2f}x)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--config-keys", type=int, default=100, help="approximate config leaves per run")
    parser.add_argument("--summary-keys", type=int, default=100, help="approximate summary keys per run")
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--recipe-runs", type=int, default=1000, help="runs for the per-run-query recipe")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (median reported)")
    parser.add_argument("--contenders", default=",".join(ALL), help=f"comma-separated subset of {ALL}")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay every GraphQL answer by this much (a stand-in for a network round trip)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.url, args.per_page, args.limit)))
        return 0
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = {n for n in names if n not in ALL and not re.fullmatch(r"wandb_frames\(concurrency=\d+\)", n)}
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}")
    t0 = time.perf_counter()
    proc, url = start_server(args.runs, args.config_keys, args.summary_keys, args.latency_ms / 1000)
    seeded = time.perf_counter() - t0
    import psutil

    server_rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    print(f"server: {args.runs} runs (~{args.config_keys} config + ~{args.summary_keys} summary keys) "
          f"seeded in {seeded:.1f}s, RSS {server_rss:.0f} MB, latency {args.latency_ms:g} ms, at {url}",
          flush=True)
    try:
        run_child("floor", url, args.per_page, None, proc.pid)  # warm the server's ordered-list cache
        reps: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for _ in range(args.repeat):  # interleaved, so drifting machine load hits every contender
            for name in names:
                limit = args.recipe_runs if "recipe" in name else None
                reps[name].append(run_child(name, url, args.per_page, limit, proc.pid))
        results = []
        for name in names:
            rs = reps[name]
            med = {k: statistics.median(r[k] for r in rs)
                   for k in ("wall_s", "cpu_s", "main_cpu_s", "peak_rss_mb", "server_cpu_s") if k in rs[0]}
            results.append((name, {**med, "rows": rs[0]["rows"], "columns": rs[0]["columns"],
                                   "walls": [round(r["wall_s"], 3) for r in rs]}))
        server_peak = psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"median of {args.repeat}; per_page={args.per_page}; server RSS after: {server_peak:.0f} MB")
    _print_table(results)
    for line in _targets(dict(results)):
        print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"runs": args.runs, "latency_ms": args.latency_ms, "config_keys": args.config_keys, "summary_keys": args.summary_keys,
                       "per_page": args.per_page, "repeat": args.repeat, "seed_s": seeded,
                       "server_rss_mb": server_peak, "results": dict(results)}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
