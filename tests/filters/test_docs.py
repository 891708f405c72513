"""docs/filters.md carries the generated operator and key tables, up to date."""

from __future__ import annotations

from pathlib import Path

from wandb_frames.filters.docs import BEGIN, END, render, update

DOC = Path(__file__).resolve().parents[2] / "docs" / "filters.md"


def test_generated_block_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    assert update(text) == text, "run: python -m wandb_frames.filters.docs docs/filters.md"


def test_render_mentions_every_operator_and_alias() -> None:
    out = render()
    for word in ("`$size`", "`$all`", "`summary_metrics.k…`", "`createdAt`", "`id`"):
        assert word in out
