"""The parquet history export under concurrent requests for the same run (threads, real HTTP).

The server writes a run's export on the first ``parquetHistory`` request. Clients fetch in
parallel (wandb-core, our pipelined history): every answer, whichever request wrote the file,
must name a complete file, and every download of it must be the same bytes.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pyarrow.parquet as pq
import requests

from wandb_frames.testing import LocalServer, RunRecord

KEY = "local-" + "r" * 40
QUERY = """query Export($entity: String!, $project: String!, $run: String!) {
  project(name: $project, entityName: $entity) { run(name: $run) {
    parquetHistory(liveKeys: ["_step"]) { parquetUrls } } } }"""
RUNS, PER_RUN, ROWS, ROUNDS = 8, 6, 20_000, 3


def _runs(round_: int) -> list[RunRecord]:
    return [
        {"id": f"race{round_}-{r}", "state": "finished",
         "history": [{"_step": s, "loss": 1.0 / (s + 1), "acc": (s * r) % 97, "tag": f"t{s % 13}"}
                     for s in range(ROWS)]}
        for r in range(RUNS)
    ]


def _fetch(server: LocalServer, run: str, barrier: threading.Barrier) -> bytes:
    with requests.Session() as http:
        barrier.wait(timeout=30)
        answer = http.post(f"{server.url}/graphql", timeout=60,
                           json={"query": QUERY, "variables": {"entity": "ent", "project": "p", "run": run}},
                           headers={"Authorization": f"Bearer {KEY}"})
        answer.raise_for_status()
        (url,) = answer.json()["data"]["project"]["run"]["parquetHistory"]["parquetUrls"]
        download = http.get(url, timeout=60)
        download.raise_for_status()
        return download.content


def test_concurrent_first_requests_for_one_run_all_get_the_same_complete_file() -> None:
    broken: list[str] = []
    with LocalServer(api_key=KEY) as server:
        for round_ in range(ROUNDS):  # fresh runs each round: every export is written under the race
            server.add_runs("ent", "p", _runs(round_))
            barrier = threading.Barrier(RUNS * PER_RUN)
            with ThreadPoolExecutor(RUNS * PER_RUN) as pool:
                futures = {(r, i): pool.submit(_fetch, server, f"race{round_}-{r}", barrier)
                           for r in range(RUNS) for i in range(PER_RUN)}
                bodies = {key: future.result() for key, future in futures.items()}
            broken.extend(_broken(bodies, round_))
    assert not broken, f"{len(broken)} problems in {ROUNDS * RUNS * PER_RUN} answers: {broken[:10]}"


def _broken(bodies: dict[tuple[int, int], bytes], round_: int) -> list[str]:
    broken = []
    for r in range(RUNS):
        name = f"race{round_}-{r}"
        answers = [bodies[(r, i)] for i in range(PER_RUN)]
        for body in answers:
            try:
                table = pq.read_table(io.BytesIO(body))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                broken.append(f"{name}: {type(exc).__name__} ({len(body)} bytes)")
                continue
            if table.num_rows != ROWS or table.column("_step").to_pylist() != list(range(ROWS)):
                broken.append(f"{name}: {table.num_rows} rows")
        if len(set(answers)) != 1:
            broken.append(f"{name}: {len(set(answers))} different files")
    return broken
