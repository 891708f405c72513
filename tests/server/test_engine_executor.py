"""The server's executor shortcut gives exactly graphql-core's answers (data and errors).

Every query answered during the server, client and conformance suites is also compared with
graphql-core's own executor (``tests/conftest.py``); these tests pin the edge cases and run
random sources through both.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, execute_sync, parse
from graphql.execution.executor import Executor
from hypothesis import given
from hypothesis import strategies as st

from wandb_frames.testing import engine

SDL = """
type Query { items: [Item] item: Item }
enum Color { RED GREEN }
type Item {
  s: String
  n: String!
  i: Int
  f: Float
  b: Boolean
  id: ID
  color: Color
  tags: [String]
  child: Item
  arg(x: Int): String
}
"""
QUERY = parse(
    "{ items { s n i f b id color tags t: s __typename child { n i } arg(x: 1) s } item { n } }"
)


_SCHEMA = build_schema(SDL)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return _SCHEMA


def _both(schema: GraphQLSchema, root: Any) -> tuple[Any, Any]:
    fast = execute_sync(schema, QUERY, root, executor_class=engine.FAST_EXECUTOR)
    ref = execute_sync(schema, QUERY, root, executor_class=Executor)
    return (fast.data, [e.formatted for e in fast.errors or ()]), (ref.data, [e.formatted for e in ref.errors or ()])


def test_plain_values_agree(schema: GraphQLSchema) -> None:
    root = {"items": [{"s": "a", "n": "b", "i": 3, "f": 1.5, "b": True, "id": 7, "color": "RED",
                       "tags": ["x"], "child": {"n": "c", "i": None}, "arg": "q"}], "item": {"n": "z"}}
    fast, ref = _both(schema, root)
    assert fast == ref
    assert fast[0]["items"][0]["id"] == "7" and fast[1] == []


@pytest.mark.parametrize(
    "item",
    [
        {"n": None},  # a non-null field without a value: an error, located
        {"n": "ok", "i": "not an int"},  # a failed coercion: an error, located
        {"n": "ok", "i": 2**40},  # outside GraphQL's 32-bit Int
        {"n": "ok", "f": float("nan")},  # not a finite float
        {"n": "ok", "s": ValueError("boom")},  # an exception as a value
        {"n": "ok", "s": lambda info: "called"},  # a callable: the default resolver calls it
        {"n": "ok", "b": "yes"},
    ],
    ids=["nonnull-null", "bad-int", "int-overflow", "nan", "exception", "callable", "bad-bool"],
)
def test_edge_cases_agree(schema: GraphQLSchema, item: dict[str, Any]) -> None:
    fast, ref = _both(schema, {"items": [item], "item": item})
    assert fast == ref


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.lists(st.text(max_size=3), max_size=3),
)


@given(st.lists(st.dictionaries(st.sampled_from(["s", "n", "i", "f", "b", "id", "color", "tags"]), _SCALARS),
                max_size=4))
def test_random_sources_agree(items: list[dict[str, Any]]) -> None:
    schema = _SCHEMA
    fast, ref = _both(schema, {"items": items, "item": items[0] if items else None})
    assert fast == ref


def test_a_mismatch_is_recorded() -> None:
    """The suite-wide check can fail: a doctored answer is reported."""
    schema_result = execute_sync(build_schema(SDL), parse("{ item { n } }"), {"item": {"n": "real"}})
    schema_result.data = {"item": {"n": "doctored"}}
    before = len(engine.executor_mismatches)
    original = engine.load_schema
    try:
        engine.load_schema = lambda: build_schema(SDL)  # type: ignore[assignment]
        engine._compare_with_reference(schema_result, parse("{ item { n } }"), None, {}, None)
    finally:
        engine.load_schema = original  # type: ignore[assignment]
    assert len(engine.executor_mismatches) == before + 1
    engine.executor_mismatches.pop()


def test_the_shortcut_is_taken(schema: GraphQLSchema, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain scalar fields and plain objects or lists of them never reach graphql-core's own
    ``execute_field``."""
    calls: list[str] = []
    original = Executor.execute_field

    def counting(self: Any, parent_type: Any, source: Any, details: Any, path: Any, ctx: Any) -> Any:
        calls.append(details[0].node.name.value)
        return original(self, parent_type, source, details, path, ctx)

    monkeypatch.setattr(Executor, "execute_field", counting)
    root = {"items": [{"s": "a", "n": "b", "i": 1}]}
    execute_sync(schema, parse("{ items { s n i } }"), root, executor_class=engine.FAST_EXECUTOR)
    assert calls == []
    calls.clear()
    execute_sync(schema, parse("{ items { s n i } }"), root, executor_class=Executor)
    assert calls == ["items", "s", "n", "i"]


COMPOSITE_SDL = """
type Query { items: [Item] strict: [Item!] one: Item! maybe: Item nested: [[Item]] }
type Item { n: String! s: String child: Item kids: [Item!]! }
"""
_COMPOSITE = build_schema(COMPOSITE_SDL)
COMPOSITE_QUERY = parse(
    "{ items { n s child { n s } } strict { n kids { s } } one { s child { n } } maybe { s } nested { s } }"
)


def _both_composite(root: Any) -> tuple[Any, Any]:
    fast = execute_sync(_COMPOSITE, COMPOSITE_QUERY, root, executor_class=engine.FAST_EXECUTOR)
    ref = execute_sync(_COMPOSITE, COMPOSITE_QUERY, root, executor_class=Executor)
    return (fast.data, [e.formatted for e in fast.errors or ()]), (ref.data, [e.formatted for e in ref.errors or ()])


_GOOD = {"n": "a", "s": "b", "child": {"n": "c"}, "kids": [{"s": "k"}]}


@pytest.mark.parametrize(
    "root",
    [
        {"items": [_GOOD], "strict": [_GOOD], "one": _GOOD, "maybe": _GOOD, "nested": [[_GOOD]]},
        {"items": [None, _GOOD], "strict": [_GOOD], "one": _GOOD},  # a null item of a nullable list
        {"items": ["not an object"], "strict": [None], "one": _GOOD},  # a non-object; a null non-null item
        {"items": [{"s": "no n"}], "strict": [{"s": "no n"}], "one": _GOOD},  # errors inside items
        {"items": [{"n": "a", "kids": None}], "strict": [{"n": "a", "kids": [None]}], "one": _GOOD},
        {"items": [], "strict": [], "one": None},  # a null non-null root field: data is null
        {"items": ({"n": "t"},), "strict": "text", "one": {"n": "a", "child": "x"}, "maybe": [_GOOD]},
        {"items": [{"n": "a", "child": {"s": "no n"}}], "one": {"n": 1, "child": None}, "maybe": {"s": ValueError("x")}},
    ],
    ids=["plain", "null-item", "non-object", "item-errors", "non-null-lists", "null-root", "odd-types", "nested-errors"],
)
def test_composite_edge_cases_agree(root: dict[str, Any]) -> None:
    fast, ref = _both_composite(root)
    assert fast == ref


_ITEMS = st.recursive(
    st.none() | st.text(max_size=2) | st.fixed_dictionaries({}, optional={"n": st.none() | st.text(max_size=2),
                                                                          "s": st.none() | st.integers()}),
    lambda inner: st.fixed_dictionaries({}, optional={"n": st.none() | st.text(max_size=2), "child": inner,
                                                      "kids": st.none() | st.lists(inner, max_size=3)}),
    max_leaves=8,
)


@given(st.fixed_dictionaries({}, optional={name: st.none() | _ITEMS | st.lists(_ITEMS, max_size=3)
                                          for name in ("items", "strict", "one", "maybe")}))
def test_random_composite_sources_agree(root: dict[str, Any]) -> None:
    fast, ref = _both_composite(root)
    assert fast == ref
