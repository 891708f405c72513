"""Foreground entry point: ``serve [--demo] [--port N] [--host H] [--runs N] [--api-key K]``.

Width and size flags for benchmarks: ``--config-keys K --summary-keys K`` (approximate leaves
per run, see :func:`~wandb_frames.testing.synthetic.synthetic_project`) and ``--runs-only``
(seed the demo runs only, generated lazily: no sweeps, artifacts or reports, so 100,000 runs
never exist twice in memory).

Network shape (see :class:`~wandb_frames.testing.network.Network`): ``--latency S`` delays
every HTTP answer (``/graphql`` and downloads) by ``S`` seconds, a stand-in for the round trip
to a remote W&B server, plus up to ``--jitter S`` seconds; ``--bandwidth B`` caps response
bodies at ``B`` bytes/s; ``--rate-limit R [--burst N]`` answers ``/graphql`` requests over
``R`` per second (bursts of ``N``) with 429 and ``Retry-After``.

On startup it prints two flushed lines, ``URL <url>`` and ``KEY <key>``, so a parent process
can read them, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from wandb_frames.testing.network import Network, RateLimit
from wandb_frames.testing.server import LocalServer

__all__ = ["main"]

DEMO_ENTITY = "demo"
DEMO_PROJECT = "sweep-demo"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wandb_frames.testing", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.add_argument("--demo", action="store_true", help="seed synthetic runs into demo/sweep-demo")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--runs", type=int, default=500, help="number of demo runs")
    parser.add_argument("--history-steps", type=int, default=0, help="history rows per demo run")
    parser.add_argument("--config-keys", type=int, default=None, help="approximate config leaves per demo run")
    parser.add_argument("--summary-keys", type=int, default=None, help="approximate summary keys per demo run")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to every HTTP answer, /graphql and downloads (a network round trip)")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many extra seconds per answer")
    parser.add_argument("--bandwidth", type=float, default=None, help="bytes/s for response bodies (all connections)")
    parser.add_argument("--rate-limit", type=float, default=None,
                        help="/graphql requests per second before answering 429 (token bucket)")
    parser.add_argument("--burst", type=int, default=None, help="token bucket size (default: ceil(rate-limit))")
    parser.add_argument("--max-answer-bytes", type=int, default=None,
                        help="answer /graphql with HTTP 502 when the answer would be larger (a gateway giving up)")
    parser.add_argument("--runs-only", action="store_true",
                        help="seed only the demo runs, generated lazily (no sweeps/artifacts/reports)")
    parser.add_argument("--api-key", default=None, help="the key to accept (default: random)")
    parser.add_argument("--entity", default="local", help="the viewer's default entity")
    return parser


def network_from_args(args: argparse.Namespace) -> Network | None:
    """The :class:`Network` the flags ask for (None for a plain loopback server)."""
    limit = RateLimit(args.rate_limit, args.burst) if args.rate_limit is not None else None
    most = args.max_answer_bytes
    if not args.latency and not args.jitter and args.bandwidth is None and limit is None and most is None:
        return None
    return Network(latency=args.latency, jitter=args.jitter, bandwidth=args.bandwidth, rate_limit=limit,
                   max_answer_bytes=most)


def _seed_demo(server: LocalServer, args: argparse.Namespace) -> None:
    from wandb_frames.testing import synthetic  # lazy: numpy is only needed for the demo

    width = {"n_config_keys": args.config_keys, "n_summary_keys": args.summary_keys}
    if args.runs_only:
        lazy = synthetic.iter_synthetic_runs(args.runs, 0, history_steps=args.history_steps, **width)
        server.add_runs(DEMO_ENTITY, DEMO_PROJECT, lazy)
        return
    records = synthetic.synthetic_project(args.runs, 0, history_steps=args.history_steps, **width)
    server.add_runs(DEMO_ENTITY, DEMO_PROJECT, records)
    server.add_sweeps(DEMO_ENTITY, DEMO_PROJECT, synthetic.synthetic_sweeps(records))
    server.add_artifacts(DEMO_ENTITY, DEMO_PROJECT, synthetic.synthetic_artifacts(records))
    server.add_reports(DEMO_ENTITY, DEMO_PROJECT, synthetic.synthetic_reports())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server in the foreground; returns the exit code."""
    args = _parser().parse_args(argv)
    server = LocalServer(port=args.port, api_key=args.api_key, host=args.host, entity=args.entity,
                         network=network_from_args(args))
    if args.demo:
        _seed_demo(server, args)
    # The seeded store lives as long as the process: keep it out of the cyclic GC, whose full
    # collections would otherwise rescan it (~0.25 s for 10,000 demo runs) on random requests.
    gc.collect()
    gc.freeze()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_signal)
    with server:
        sys.stdout.write(f"URL {server.url}\nKEY {server.api_key}\n")
        sys.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0
