"""Listing speed of the local server, in its own process (10,000 runs x ~200 keys by default).

Usage: ``python benchmarks/server_listing.py [--runs N] [--keys K] [--page P]``. Prints a table:
seconds per full listing (all pages) for the full ``Runs#2`` fragment, a projection query and
the lazy fragment, with and without gzip, plus a filtered ``runCount``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

DOCS = Path(__file__).resolve().parents[1] / "tests" / "server" / "data" / "client_documents_wandb-0.31.0.json"

SEED = """
import sys
from wandb_frames.testing import LocalServer, synthetic_project
n, keys = int(sys.argv[1]), int(sys.argv[2])
records = synthetic_project(n, 0, n_config_keys=keys, n_summary_keys=keys)
server = LocalServer().start()
server.add_runs("bench", "listing", records)
sys.stdout.write(f"URL {server.url}\\nKEY {server.api_key}\\n")
sys.stdout.flush()
sys.stdin.read()
server.stop()
"""

PROJECTION = """
query Projected($entity: String!, $project: String!, $cursor: String, $perPage: Int, $order: String,
                $filters: JSONString, $ck: [String!], $sk: [String!]) {
  project(name: $project, entityName: $entity) {
    runCount(filters: $filters)
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { cursor node { id name displayName state createdAt heartbeatAt computeSeconds tags
        group jobType user { username } config(keys: $ck) summaryMetrics(keys: $sk) } }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""


def _runs_docs() -> tuple[str, str]:
    docs: dict[str, str] = json.loads(DOCS.read_text())["documents"]
    return docs["Runs#2"], docs["Runs"]


def list_all(session: requests.Session, url: str, query: str, page: int, extra: dict[str, Any],
             gzip_ok: bool) -> tuple[float, int, int]:
    headers = {"Accept-Encoding": "gzip" if gzip_ok else "identity"}
    variables: dict[str, Any] = {"entity": "bench", "project": "listing", "perPage": page, "cursor": None,
                                 "order": "+created_at", "filters": "{}", **extra}
    start = time.perf_counter()
    n = wire = 0
    while True:
        response = session.post(url, json={"query": query, "variables": variables, "operationName": ""},
                                headers=headers, timeout=300)
        response.raise_for_status()
        wire += len(response.content)
        runs = response.json()["data"]["project"]["runs"]
        n += len(runs["edges"])
        if not runs["pageInfo"]["hasNextPage"]:
            return time.perf_counter() - start, n, wire
        variables["cursor"] = runs["edges"][-1]["cursor"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=100, help="config keys and summary keys (each)")
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", SEED, str(args.runs), str(args.keys)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[1] + "/graphql"
        key = proc.stdout.readline().split()[1]
        seeded = time.perf_counter() - t0
        session = requests.Session()
        session.auth = ("api", key)
        full, lazy = _runs_docs()
        proj = {"ck": ["optimizer", "model", "seed"], "sk": ["loss", "acc"]}
        rows = [("seed + start server (subprocess)", seeded, args.runs, 0)]
        for label, query, extra in (("Runs#2 full fragment", full, {}), ("projection query", PROJECTION, proj),
                                    ("Runs lazy fragment", lazy, {})):
            for gz in (False, True):
                secs, n, wire = list_all(session, url, query, args.page, extra, gz)
                rows.append((f"{label}{' (gzip)' if gz else ''}", secs, n, wire))
        secs, n, wire = list_all(session, url, full, args.page, {}, False)
        rows.append(("Runs#2 again (cached order)", secs, n, wire))
        flt = json.dumps({"$and": [{"state": "finished"}, {"summary_metrics.loss": {"$lt": 1.0}}]})
        start = time.perf_counter()
        count = session.post(url, json={"query": 'query($f: JSONString) { project(name: "listing", entityName: '
                                         '"bench") { runCount(filters: $f) } }', "variables": {"f": flt}},
                             timeout=300).json()["data"]["project"]["runCount"]
        rows.append(("runCount with a filter (mongomock)", time.perf_counter() - start, count, 0))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=60)
    print(f"{'what':40} {'seconds':>8} {'runs':>7} {'MB (decoded)':>12}")
    for label, secs, n, wire in rows:
        print(f"{label:40} {secs:8.2f} {n:7d} {wire / 1e6:12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
