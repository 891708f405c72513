"""Benchmark: tables and histories over a slow link (issue 15), wandb-frames vs ``wandb==0.31.0``.

One local server process (this script re-launched with ``--serve``) is seeded with two
projects: ``table`` (``--table-runs`` runs x ~``--config-keys + --summary-keys`` leaves, no
history) and ``histories`` (``--history-runs`` runs x ``--history-steps`` steps, parquet
exports written before timing). For each latency of ``--latencies-ms`` the server's
:class:`~wandb_frames.testing.Network` is set to that per-request latency (every HTTP
request: ``/graphql`` and parquet downloads), then each contender runs in a fresh
interpreter (this script with ``--child``), every argument at its default:

- ``table: wandb_frames``: ``wf.Api(...).runs("bench/table").to_pandas()``;
- ``table: official lazy=False``: ``wandb.Api(...).runs("bench/table", lazy=False)`` (its
  default ``per_page=50``) + ``pd.json_normalize`` (``official_contenders.official_lazy_false``);
- ``histories: wandb_frames``: ``wf.Api(...).runs("bench/histories").history_frames().to_arrow()``;
- ``table: wandb_frames tuned`` / ``histories: wandb_frames tuned``: the same calls with the
  knobs a user on a slow link may set (:data:`TUNED_TABLE`, :data:`TUNED_HISTORIES`);
- ``sampled histories: wandb_frames``: ``wf.Api(...).runs("bench/histories").histories()``, wandb's
  signature and answer (server-sampled rows, ``samples=500``), the official one's counterpart;
- ``histories: official``: ``wandb.Api(...).runs("bench/histories").histories()`` (its
  defaults: ``samples=500``, a list of row dicts).

Wall and CPU time (the child and its descendants, i.e. wandb-core) are measured in the child,
peak RSS of the child's process tree is sampled from here; ``requests`` and ``in flight`` are
the server's counts (``LocalServer.traffic``: HTTP requests answered, the most at once).

Usage::

    .venv/bin/python benchmarks/network.py                      # 0/50/200 ms, 5,000-run table, 300 x 500 histories
    .venv/bin/python benchmarks/network.py --latencies-ms 50 --contenders "table: wandb_frames"
    .venv/bin/python benchmarks/network.py --quick              # seconds: tiny sizes, 0 and 20 ms
    .venv/bin/python benchmarks/network.py --latencies-ms 50 --rate-limit 20 --contenders "histories: wandb_frames"

``--rate-limit RPS`` adds the local server's W&B-like token bucket on ``/graphql`` (``graphql``
and ``429s`` columns: requests and rate-limited answers; parquet downloads are not limited, as
on W&B, where they come from cloud storage).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENTITY = "bench"
TABLE, HISTORIES = "table", "histories"
KEY = "local-" + "n" * 40
ALL = ("table: wandb_frames", "table: wandb_frames tuned", "table: official lazy=False",
       "histories: wandb_frames", "histories: wandb_frames tuned", "histories: official",
       "sampled histories: wandb_frames")
#: What "tuned" sets: the table in batches of 1,000 runs with up to 16 in flight from the start;
#: histories with 16 downloads in flight from the start.
TUNED_TABLE = {"per_page": 1000, "concurrency": 16}
TUNED_HISTORIES = {"max_workers": 16}


# ---------------------------------------------------------------- server (child process)
def serve(args: argparse.Namespace) -> None:
    """Seed both projects, print URL/KEY, then obey stdin: ``latency S`` / ``stats`` / EOF."""
    import requests

    from wandb_frames.testing import LocalServer, Network, RateLimit
    from wandb_frames.testing.synthetic import iter_synthetic_runs, synthetic_project

    server = LocalServer(api_key=KEY, entity=ENTITY).start()
    server.add_runs(ENTITY, TABLE, iter_synthetic_runs(args.table_runs, 0, n_config_keys=args.config_keys,
                                                         n_summary_keys=args.summary_keys))
    server.add_runs(ENTITY, HISTORIES, synthetic_project(args.history_runs, 1, history_steps=args.history_steps))
    # write every parquet export now (the server writes each on its first request)
    doc = ('query { project(name: "histories", entityName: "bench") { runs(first: 10000) '
           '{ edges { node { parquetHistory(liveKeys: ["_step"]) { parquetUrls } } } } } }')
    requests.post(server.url + "/graphql", json={"query": doc}, auth=("api", KEY), timeout=600).raise_for_status()
    gc.collect()
    gc.freeze()
    server.reset_traffic()
    sys.stdout.write(f"URL {server.url}\n")
    sys.stdout.flush()
    for line in sys.stdin:
        command, _, value = line.strip().partition(" ")
        if command == "latency":
            limit = RateLimit(rate=args.rate_limit, burst=args.burst) if args.rate_limit else None
            shaped = float(value) > 0 or limit is not None
            server.set_network(Network(latency=float(value), rate_limit=limit) if shaped else None)
            server.reset_traffic()
            sys.stdout.write("OK\n")
        elif command == "stats":
            t = server.traffic
            server.reset_traffic()
            sys.stdout.write(json.dumps({"requests": t.requests, "graphql": t.graphql, "downloads": t.downloads,
                                         "max_in_flight": t.max_in_flight, "rate_limited": t.rate_limited}) + "\n")
        sys.stdout.flush()
    server.stop()


# ---------------------------------------------------------------- contenders (child process)
def child(name: str, url: str) -> dict[str, Any]:
    """Run one contender in this (fresh) process; return its measurements."""
    import warnings

    import pandas  # noqa: F401  # every contender starts with pandas imported

    warnings.simplefilter("ignore")
    sys.path.insert(0, HERE)
    from official_contenders import ResourceMeter, official_lazy_false

    if name == "table: official lazy=False":
        out = official_lazy_false(url, KEY, ENTITY, TABLE, per_page=50)
        return {"wall_s": out["wall_s"], "cpu_s": out["cpu_s"], "peak_rss_mb": out["peak_rss_mb"],
                "rows": out["n_runs"], "columns": out["n_columns"]}
    official = name.endswith("official")
    if official:
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb
    else:
        import wandb_frames as wf
    meter = ResourceMeter()
    meter.start()
    if official:
        api = wandb.Api(api_key=KEY, overrides={"base_url": url})
        rows_out = api.runs(f"{ENTITY}/{HISTORIES}").histories()
        rows, columns = len(rows_out), len({k for row in rows_out for k in row})
    else:
        ours = wf.Api(overrides={"base_url": url}, api_key=KEY)
        if name == "table: wandb_frames":
            frame = ours.runs(f"{ENTITY}/{TABLE}").to_pandas()
            rows, columns = frame.shape
        elif name == "table: wandb_frames tuned":
            frame = ours.runs(f"{ENTITY}/{TABLE}", **TUNED_TABLE).to_pandas()  # type: ignore[arg-type]
            rows, columns = frame.shape
        elif name == "histories: wandb_frames tuned":
            table = ours.runs(f"{ENTITY}/{HISTORIES}").history_frames(**TUNED_HISTORIES).to_arrow()
            rows, columns = table.num_rows, table.num_columns
        elif name == "sampled histories: wandb_frames":  # wandb's Runs.histories(), same answer
            sampled = ours.runs(f"{ENTITY}/{HISTORIES}").histories()
            rows, columns = len(sampled), len({k for row in sampled for k in row})
        else:
            table = ours.runs(f"{ENTITY}/{HISTORIES}").history_frames().to_arrow()
            rows, columns = table.num_rows, table.num_columns
    meter.stop()
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": meter.wall_s, "cpu_s": meter.cpu_s, "rows": int(rows), "columns": int(columns),
            "peak_rss_mb": max(meter.peak_rss / 2**20, own_peak)}


# ---------------------------------------------------------------- orchestration (parent side)
class Server:
    """The ``--serve`` child: start, set latency, read traffic counts, stop."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--table-runs", str(args.table_runs), "--config-keys",
             str(args.config_keys), "--summary-keys", str(args.summary_keys), "--history-runs",
             str(args.history_runs), "--history-steps", str(args.history_steps),
             "--rate-limit", str(args.rate_limit), *(["--burst", str(args.burst)] if args.burst else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        self.url = self._line().split(" ", 1)[1]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server exited")
        return line.strip()

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line()

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_child(name: str, url: str) -> dict[str, Any]:
    """One contender in a fresh interpreter; peak RSS of its tree sampled from here."""
    sys.path.insert(0, HERE)
    from official_contenders import PARENT_SAMPLES_ENV, TreeRssSampler

    env = {**os.environ, "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true", PARENT_SAMPLES_ENV: "1",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, __file__, "--child", name, "--url", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    with TreeRssSampler(proc.pid) as sampler:
        stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{stderr[-3000:]}")
    result = dict(json.loads(stdout.strip().splitlines()[-1]))
    result["peak_rss_mb"] = max(result["peak_rss_mb"], sampler.peak_rss / 2**20)
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'latency':>8}  {'contender':<28}{'rows':>9}{'cols':>6}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}"
          f"{'requests':>10}{'graphql':>9}{'429s':>6}{'in flight':>10}{'official/ours':>15}")
    by = {(r["latency_ms"], r["contender"]): r for r in results}
    for r in results:
        ratio = ""
        if "wandb_frames" in r["contender"]:
            kind = r["contender"].split(":")[0]
            other = next((o for (lat, name), o in by.items()
                          if lat == r["latency_ms"] and name.startswith(kind) and "official" in name), None)
            if other is not None:
                ratio = f"{other['wall_s'] / r['wall_s']:.1f}x"
        print(f"{r['latency_ms']:>6g}ms  {r['contender']:<28}{r['rows']:>9}{r['columns']:>6}{r['wall_s']:>9.2f}"
              f"{r['cpu_s']:>8.2f}{r['peak_rss_mb']:>9.0f}{r['requests']:>10}{r['graphql']:>9}{r['rate_limited']:>6}"
              f"{r['max_in_flight']:>10}{ratio:>15}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latencies-ms", default="0,50,200", help="comma-separated per-request latencies")
    parser.add_argument("--table-runs", type=int, default=5000)
    parser.add_argument("--config-keys", type=int, default=75, help="approximate config leaves per run")
    parser.add_argument("--summary-keys", type=int, default=75, help="approximate summary keys per run")
    parser.add_argument("--history-runs", type=int, default=300)
    parser.add_argument("--history-steps", type=int, default=500)
    parser.add_argument("--contenders", default=",".join(ALL), help=f"comma-separated subset of {ALL}")
    parser.add_argument("--rate-limit", type=float, default=0.0, metavar="RPS",
                        help="W&B-like rate limit on /graphql: requests per second (429 + Retry-After); 0: none")
    parser.add_argument("--burst", type=int, default=None, help="token bucket size of --rate-limit (default: RPS)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes for a smoke run: 60-run table, 6 x 30 histories, 0 and 20 ms")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--plot", default=None, help="also draw wall time against latency into this PNG")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.table_runs, args.config_keys, args.summary_keys = 60, 20, 20
        args.history_runs, args.history_steps, args.latencies_ms = 6, 30, "0,20"
    if args.serve:
        serve(args)
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.url)))
        return 0
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(ALL)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; choose from {ALL}")
    latencies = [float(x) for x in args.latencies_ms.split(",") if x.strip()]
    start = time.perf_counter()
    server = Server(args)
    print(f"server: table {args.table_runs} runs x ~{args.config_keys + args.summary_keys} keys, histories "
          f"{args.history_runs} runs x {args.history_steps} steps, seeded in {time.perf_counter() - start:.1f}s",
          flush=True)
    results: list[dict[str, Any]] = []
    try:
        for latency_ms in latencies:
            server.ask(f"latency {latency_ms / 1000}")
            for name in contenders:
                measured = run_child(name, server.url)
                stats = json.loads(server.ask("stats"))
                results.append({"latency_ms": latency_ms, "contender": name, **measured, **stats})
                print(f"  {latency_ms:g} ms  {name}: {measured['wall_s']:.2f}s, {stats['requests']} requests "
                      f"({stats['graphql']} graphql, {stats['rate_limited']} answered 429)", flush=True)
    finally:
        server.stop()
    print()
    print_table(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1)
    if args.plot:
        plot(results, args.plot)
    return 0


def plot(results: list[dict[str, Any]], path: str) -> None:
    """Wall time against per-request latency, one line per contender (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, kind in zip(axes, ("table", "histories"), strict=True):
        names = sorted({r["contender"] for r in results if r["contender"].startswith(kind)})
        for name in names:
            points = sorted((r["latency_ms"], r["wall_s"]) for r in results if r["contender"] == name)
            style = "--" if "official" in name else "-"
            ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=name.split(": ")[1])
        ax.set_yscale("log")
        ax.set_xlabel("latency per request (ms)")
        ax.set_ylabel("wall time (s)")
        ax.set_title({"table": "5,000-run table", "histories": "histories, 300 runs x 500 steps"}[kind])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
