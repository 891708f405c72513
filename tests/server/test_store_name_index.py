"""The store's shortcut for ``{"name": {"$in": [...]}}`` matches exactly what mongomock matches."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wandb_frames.testing import LocalServer, mongo
from wandb_frames.testing.store import _names_in

IDS = [f"run{i:02d}" for i in range(12)]
_SERVER = LocalServer()
_SERVER.add_runs("e", "p", [{"id": run_id, "state": "finished"} for run_id in IDS])
_DOCS = [run.doc for run in _SERVER._project("e", "p").runs.values()]


@given(st.lists(st.one_of(st.sampled_from(IDS), st.text(max_size=6)), max_size=15))
def test_name_in_equals_mongomock(names: list[str]) -> None:
    spec = {"name": {"$in": names}}
    shortcut = _names_in(spec)
    assert shortcut is not None
    assert shortcut & set(IDS) == set(mongo.select_ids(spec, _DOCS))


def test_other_shapes_are_left_to_mongomock() -> None:
    others: list[Any] = [
        {"name": {"$in": ["run01", 3]}},  # not only strings
        {"name": {"$nin": ["run01"]}},
        {"name": "run01"},
        {"name": {"$in": ["run01"]}, "state": "finished"},
        {"$and": [{"name": {"$in": ["run01"]}}]},
        {"name": {"$in": "run01"}},
    ]
    assert all(_names_in(spec) is None for spec in others)
