"""split(): what goes to the server, what stays local, and why."""

from __future__ import annotations

from wandb_frames.filters import FilterPlan, parse_filter, split, to_server


def test_none() -> None:
    assert split(None) == FilterPlan(None, None, ())


def test_all_server() -> None:
    f = parse_filter({"state": "finished", "config.lr": {"$gt": 1}})
    assert split(f) == FilterPlan(f, None, ())


def test_conjuncts_are_split() -> None:
    plan = split(parse_filter({"state": "finished", "tags": {"$size": 2}, "notes": {"$regex": "x"}}))
    assert plan.server == parse_filter({"state": "finished"})
    assert plan.local == parse_filter({"tags": {"$size": 2}, "notes": {"$regex": "x"}})
    assert len(plan.notes) == 2
    assert "$size" in plan.notes[0] and "/tags/$size" in plan.notes[0]
    assert "notes" in plan.notes[1]


def test_or_with_a_local_branch_stays_whole() -> None:
    f = parse_filter({"$or": [{"state": "crashed"}, {"tags": {"$size": 0}}], "group": "g"})
    plan = split(f)
    assert plan.server == parse_filter({"group": "g"})
    assert plan.local == parse_filter({"$or": [{"state": "crashed"}, {"tags": {"$size": 0}}]})


def test_not_with_a_local_part_stays_whole() -> None:
    plan = split(parse_filter({"display_name": {"$not": {"$regex": "^a", "$options": "i"}}}))
    assert plan.server is None
    assert plan.local is not None
    assert "$options" in plan.notes[0]


def test_rewritten_operators_go_to_the_server() -> None:
    plan = split(parse_filter({"tags": {"$all": ["a", "b"]}, "state": {"$not": {"$eq": "x"}}}))
    assert plan.local is None
    assert plan.server is not None
    assert to_server(plan.server) == {
        "$and": [{"$and": [{"tags": "a"}, {"tags": "b"}]}, {"$nor": [{"state": "x"}]}]
    }


def test_server_part_compiles() -> None:
    plan = split(parse_filter("config.lr > 0.1 and 'a' in tags and notes == 'x'"))
    assert plan.server is not None
    assert to_server(plan.server) == {"$and": [{"config.lr.value": {"$gt": 0.1}}, {"tags": "a"}]}
