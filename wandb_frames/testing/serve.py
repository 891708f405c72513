"""Foreground entry point: ``serve [--demo] [--port N] [--host H] [--runs N] [--api-key K]``.

On startup it prints two flushed lines, ``URL <url>`` and ``KEY <key>``, so a parent process
can read them, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

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
    parser.add_argument("--api-key", default=None, help="the key to accept (default: random)")
    parser.add_argument("--entity", default="local", help="the viewer's default entity")
    return parser


def _seed_demo(server: LocalServer, runs: int, history_steps: int) -> None:
    from wandb_frames.testing import synthetic  # lazy: numpy is only needed for the demo

    records = synthetic.synthetic_project(runs, 0, history_steps=history_steps)
    server.add_runs(DEMO_ENTITY, DEMO_PROJECT, records)
    server.add_sweeps(DEMO_ENTITY, DEMO_PROJECT, synthetic.synthetic_sweeps(records))
    server.add_artifacts(DEMO_ENTITY, DEMO_PROJECT, synthetic.synthetic_artifacts(records))
    server.add_reports(DEMO_ENTITY, DEMO_PROJECT, synthetic.synthetic_reports())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server in the foreground; returns the exit code."""
    args = _parser().parse_args(argv)
    server = LocalServer(port=args.port, api_key=args.api_key, host=args.host, entity=args.entity)
    if args.demo:
        _seed_demo(server, args.runs, args.history_steps)
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
