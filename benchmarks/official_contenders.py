"""Timed contenders that use the OFFICIAL client (``wandb==0.31.0``), for the benchmark scripts.

Each function builds its own ``wandb.Api`` against ``url`` (the build starts the wandb-core
child process if this Python process has none yet; its time is reported as ``api_init_s``
and is included in ``wall_s``), runs one export, and returns a dict::

    {"contender", "wall_s", "cpu_s", "peak_rss_mb", "n_runs", "n_columns", "api_init_s"}

- ``cpu_s``: user+system CPU of this process **and** of its child processes (wandb-core does
  the HTTP and JSON work of the official client), measured with psutil.
- ``peak_rss_mb``: the highest sum of RSS of this process and all its descendants, sampled
  every 10 ms in a background thread while the contender runs.
- ``import wandb`` happens before the meter starts (as ``import pandas`` does for every
  contender); starting ``wandb-core`` (``wandb.Api(...)``) is inside the measurement.

The environment is made quiet (``WANDB_ERROR_REPORTING=false`` so wandb-core skips its
telemetry probe, ``WANDB_SILENT=true``) unless the caller set those variables; the API key
is passed to ``wandb.Api`` only, never written to ``~/.netrc`` or printed.

Example::

    from benchmarks.official_contenders import official_lazy_false, official_recipe
    with LocalServer() as server:
        server.add_runs("local", "bench", synthetic_project(2000))
        print(official_lazy_false(server.url, server.api_key, "local", "bench", per_page=200))
        print(official_recipe(server.url, server.api_key, "local", "bench", limit=200))
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import psutil  # type: ignore[import-untyped]  # no types-psutil in the venv

__all__ = ["PARENT_SAMPLES_ENV", "ResourceMeter", "TreeRssSampler", "official_lazy_false", "official_recipe"]


def _quiet_environment() -> None:
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    os.environ.setdefault("WANDB_SILENT", "true")


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _tree_rss(procs: list[psutil.Process]) -> int:
    """The summed RSS of ``procs`` (processes that exited meanwhile count 0)."""
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return int(total)


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system)


PARENT_SAMPLES_ENV = "WF_BENCH_PARENT_SAMPLES_RSS"
"""Set by a parent that samples this process tree's RSS from outside (``TreeRssSampler``): the
meter then runs no sampling thread, which would take the GIL 50 times a second from the
code it measures (measured: +0.06 s, ~4.5 %, on a 1.3 s runs listing)."""


class TreeRssSampler:
    """Peak RSS of a process and its descendants, sampled from another process."""

    def __init__(self, pid: int, interval: float = 0.02, discover: float = 0.5) -> None:
        self._root = psutil.Process(pid)
        self._interval = interval
        self._discover = discover
        self._stop = threading.Event()
        self.peak_rss = 0
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        procs = _tree(self._root)
        found_at = time.perf_counter()
        while not self._stop.wait(self._interval):
            if time.perf_counter() - found_at >= self._discover:
                procs, found_at = _tree(self._root), time.perf_counter()
            self.peak_rss = max(self.peak_rss, _tree_rss(procs))

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class ResourceMeter:
    """Wall time, CPU (this process + descendants) and peak RSS of the tree while active.

    Cheap by design, so that it does not slow down what it measures: the list of descendants
    is refreshed every ``discover`` seconds (``psutil`` scans ``/proc`` for it), RSS is read
    every ``interval`` seconds for the known processes only, and the final peak is never
    below this process's own ``ru_maxrss``. When a parent samples the tree's RSS from
    outside (``PARENT_SAMPLES_ENV`` set, see :class:`TreeRssSampler`), no sampling thread
    runs at all (``interval`` defaults to None then, 0.02 s otherwise). CPU of a descendant is counted from its value
    when the meter started (0 for processes started meanwhile); a descendant that exits
    before :meth:`stop` loses its share, which does not happen for wandb-core (it lives as
    long as the Python process).
    """

    def __init__(self, interval: float | None = None, discover: float = 0.5) -> None:
        if interval is None:
            interval = None if os.environ.get(PARENT_SAMPLES_ENV) else 0.02
        self._interval = interval
        self._discover = discover
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base_cpu: dict[int, float] = {}
        self._procs: list[psutil.Process] = [self._me]
        self._found_at = 0.0
        self.peak_rss = 0
        self.wall_s = 0.0
        self.cpu_s = 0.0
        self._t0 = 0.0

    def _refresh(self, now: float) -> None:
        if now - self._found_at >= self._discover:
            self._procs = _tree(self._me)
            self._found_at = now

    def _sample(self) -> None:
        self._refresh(time.perf_counter())
        self.peak_rss = max(self.peak_rss, _tree_rss(self._procs))

    def _loop(self) -> None:
        assert self._interval is not None
        while not self._stop.wait(self._interval):
            self._sample()

    def start(self) -> None:
        """Take baselines and start sampling."""
        self._procs = _tree(self._me)
        self._found_at = time.perf_counter()
        self._base_cpu = {p.pid: _cpu(p) for p in self._procs}
        self._sample()
        self._t0 = time.perf_counter()
        if self._interval is not None:
            self._thread = threading.Thread(target=self._loop, name="resource-meter", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop sampling and compute ``wall_s``, ``cpu_s`` and ``peak_rss``."""
        self.wall_s = time.perf_counter() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._found_at = 0.0
        self._sample()
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        self.peak_rss = max(self.peak_rss, own_peak)
        self.cpu_s = sum(_cpu(p) - self._base_cpu.get(p.pid, 0.0) for p in self._procs)


@contextmanager
def _measured() -> Iterator[ResourceMeter]:
    meter = ResourceMeter()
    meter.start()
    try:
        yield meter
    finally:
        meter.stop()


def _result(name: str, meter: ResourceMeter, frame: pd.DataFrame, api_init_s: float) -> dict[str, Any]:
    return {
        "contender": name,
        "wall_s": meter.wall_s,
        "cpu_s": meter.cpu_s,
        "peak_rss_mb": meter.peak_rss / 2**20,
        "n_runs": int(len(frame)),
        "n_columns": int(frame.shape[1]),
        "api_init_s": api_init_s,
    }


def _make_api(url: str, key: str) -> tuple[Any, float]:
    _quiet_environment()
    import wandb

    t0 = time.perf_counter()
    api = wandb.Api(api_key=key, overrides={"base_url": url})
    return api, time.perf_counter() - t0


def _timed(name: str, url: str, key: str, body: Callable[[Any], pd.DataFrame]) -> dict[str, Any]:
    _quiet_environment()
    import wandb  # noqa: F401  # imported before the meter starts: import time is not export work

    with _measured() as meter:
        api, init_s = _make_api(url, key)
        frame = body(api)
    return _result(name, meter, frame, init_s)


def official_lazy_false(url: str, key: str, entity: str, project: str, per_page: int) -> dict[str, Any]:
    """The official client at its fastest: ``api.runs(..., lazy=False)`` + ``pd.json_normalize``.

    One ``Runs`` request per page carries config and summary (no per-run ``Run`` query).

    Returns:
        ``{"contender", "wall_s", "cpu_s", "peak_rss_mb", "n_runs", "n_columns", "api_init_s"}``.
    """

    def body(api: Any) -> pd.DataFrame:
        rows = [
            {**run.config, **run.summary._json_dict, "id": run.id, "name": run.name,
             "state": run.state, "created_at": run.created_at, "tags": run.tags}
            for run in api.runs(f"{entity}/{project}", per_page=per_page, lazy=False)
        ]
        return pd.json_normalize(rows)

    return _timed("official lazy=False + json_normalize", url, key, body)


def official_recipe(url: str, key: str, entity: str, project: str, limit: int) -> dict[str, Any]:
    """The W&B docs export recipe on at most ``limit`` runs (default lazy listing: N+1 queries).

    Per run: ``run.summary._json_dict``, the config without ``_``-prefixed keys, ``run.name``;
    then ``pd.DataFrame({"summary": ..., "config": ..., "name": ...})`` as in the docs.

    Returns:
        ``{"contender", "wall_s", "cpu_s", "peak_rss_mb", "n_runs", "n_columns", "api_init_s"}``.
    """

    def body(api: Any) -> pd.DataFrame:
        summary_list, config_list, name_list = [], [], []
        for count, run in enumerate(api.runs(f"{entity}/{project}")):
            if count >= limit:
                break
            summary_list.append(run.summary._json_dict)
            config_list.append({k: v for k, v in run.config.items() if not k.startswith("_")})
            name_list.append(run.name)
        return pd.DataFrame({"summary": summary_list, "config": config_list, "name": name_list})

    return _timed("official docs recipe (lazy, N+1)", url, key, body)
