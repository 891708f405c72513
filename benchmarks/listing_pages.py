"""Micro-benchmark on the listing's own pages: decode, flatten and convert the JSON sections.

Run against a demo server (``python -m wandb_frames.testing serve --runs-only --demo --runs
10000 --config-keys 100 --summary-keys 100 --api-key local-…``)::

    .venv/bin/python benchmarks/listing_pages.py URL API_KEY [--repeat 5]

The pages are fetched once with ``Api.runs(...).to_pandas()`` (the nodes handed to
``sections_to_columns`` are kept), then each stage is timed on them with the cyclic GC paused,
as in the listing; CPU seconds, best of ``--repeat``:

- ``decode``: ``decode_sections_enveloped`` of every node (orjson; the std-lib for NaN texts);
- ``sections_to_columns``: decode + flatten into columns (the fused walk);
- ``column_to_arrow``: each page's columns to Arrow;
- ``all``: ``sections_to_columns`` + ``TableAssembler._add_columns`` + ``finish``.

Unlike ``flatten_micro.py`` (uniform synthetic runs), these runs have sparse summary keys
(~520 distinct key tuples per 1,000 summaries), literal dots in keys, media dicts and NaN.
"""

from __future__ import annotations

import argparse
import gc
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import wandb_frames.tabular.frames as frames
from wandb_frames import Api
from wandb_frames.tabular import TableAssembler
from wandb_frames.tabular.columns import column_to_arrow
from wandb_frames.tabular.decode import decode_sections_enveloped
from wandb_frames.tabular.fused import sections_to_columns


def capture_pages(url: str, api_key: str, path: str) -> list[Sequence[Mapping[str, Any]]]:
    """Fetch the table once; return the pages of nodes given to ``sections_to_columns``."""
    pages: list[Sequence[Mapping[str, Any]]] = []
    original = getattr(frames, "sections_to_columns")  # noqa: B009 (patched below)

    def keep(nodes: Sequence[Mapping[str, Any]], *, sep: str = ".") -> Any:
        pages.append([dict(node) for node in nodes])  # light dicts; memoryviews keep the buffers
        return original(nodes, sep=sep)

    setattr(frames, "sections_to_columns", keep)  # noqa: B010
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Api(api_key=api_key, overrides={"base_url": url}, progress=False).runs(path, per_page=1000).to_pandas()
    finally:
        setattr(frames, "sections_to_columns", original)  # noqa: B010
    return pages


def best_cpu(fn: Callable[[], Any], repeat: int) -> float:
    """The best CPU time of ``repeat`` calls, the GC paused during each."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
        gc.enable()
    return best


def main() -> None:
    """Print CPU seconds per stage over all pages."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("api_key")
    parser.add_argument("--path", default="demo/sweep-demo")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pages = capture_pages(args.url, args.api_key, args.path)
    columns = [sections_to_columns(page)[0] for page in pages]

    def decode() -> None:
        for page in pages:
            for node in page:
                decode_sections_enveloped(node)

    def flatten() -> None:
        for page in pages:
            sections_to_columns(page)

    def convert() -> None:
        for page_columns in columns:
            for values in page_columns.values():
                column_to_arrow(values)

    def assemble() -> None:
        assembler = TableAssembler()
        for page in pages:
            assembler._add_columns(len(page), sections_to_columns(page)[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assembler.finish()

    runs = sum(map(len, pages))
    print(f"{len(pages)} pages, {runs} runs, {sum(map(len, columns)) // max(1, len(columns))} columns/page")
    for stage, fn in {"decode": decode, "sections_to_columns": flatten, "column_to_arrow": convert,
                      "all": assemble}.items():
        print(f"{stage:<20} {best_cpu(fn, args.repeat):8.3f} s")


if __name__ == "__main__":
    main()
