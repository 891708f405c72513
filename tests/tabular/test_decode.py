"""decode_run_node, loads_wandb_json and parse_timestamp on W&B-shaped input."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from wandb_frames.errors import ProtocolError
from wandb_frames.tabular import RUN_COLUMNS, decode_run_node, loads_wandb_json, parse_timestamp

WANDB_NODE = {
    "id": "UnVuOnYxOmExYjJjM2Q0OnByb2o6dGVzdGVy",
    "name": "a1b2c3d4",
    "displayName": "eager-fox-1",
    "sweepName": "sw1",
    "state": "finished",
    "config": (
        '{"lr": {"value": 0.01, "desc": null}, "model": {"value": {"layers": 4, "act": "gelu"}, "desc": null},'
        ' "_wandb": {"value": {"cli_version": "0.31.0"}}, "wandb_version": 1, "raw": 3}'
    ),
    "group": "g1",
    "jobType": "train",
    "commit": "abc123",
    "readOnly": False,
    "createdAt": "2023-11-05T17:46:35",
    "heartbeatAt": "2021-01-01T00:00:00Z",
    "description": None,
    "notes": "first try",
    "host": "node-1",
    "computeSeconds": 42,
    "systemMetrics": '{"cpu": 12.5}',
    "summaryMetrics": '{"loss": NaN, "best": Infinity, "worst": -Infinity, "img": {"_type": "image-file", "path": "a.png"}}',
    "historyLineCount": 10,
    "tags": None,
    "user": {"name": "Alice", "username": "alice"},
    "projectId": "123",
}


def test_decode_run_node_wandb_shaped() -> None:
    run = decode_run_node(WANDB_NODE, entity="tester", project="proj")
    assert list(run)[: len(RUN_COLUMNS)] == list(RUN_COLUMNS)
    assert run["id"] == "a1b2c3d4"
    assert run["name"] == "eager-fox-1"
    assert (run["entity"], run["project"], run["state"]) == ("tester", "proj", "finished")
    assert run["created_at"] == datetime(2023, 11, 5, 17, 46, 35, tzinfo=UTC)
    assert run["heartbeat_at"] == datetime(2021, 1, 1, tzinfo=UTC)
    assert run["duration"] == 42.0 and isinstance(run["duration"], float)
    assert run["tags"] == []
    assert (run["group"], run["job_type"], run["sweep"], run["user"]) == ("g1", "train", "sw1", "alice")
    assert (run["host"], run["notes"], run["commit"]) == ("node-1", "first try", "abc123")
    assert run["config"] == {"lr": 0.01, "model": {"layers": 4, "act": "gelu"}, "raw": 3}
    assert run["config_internal"] == {"_wandb": {"cli_version": "0.31.0"}, "wandb_version": 1}
    assert run["system"] == {"cpu": 12.5}
    summary = run["summary"]
    assert math.isnan(summary["loss"]) and summary["best"] == math.inf and summary["worst"] == -math.inf
    assert summary["img"] == {"_type": "image-file", "path": "a.png"}


def test_decode_run_node_absent_fields_are_absent() -> None:
    run = decode_run_node({"name": "r1", "displayName": "x"}, entity="e", project="p")
    assert run == {"id": "r1", "name": "x", "entity": "e", "project": "p"}


def test_decode_run_node_null_fields_are_none() -> None:
    node = {"name": "r1", "heartbeatAt": None, "user": None, "computeSeconds": None, "config": None,
            "summaryMetrics": None, "sweep": None}
    run = decode_run_node(node, entity="e", project="p")
    assert run["heartbeat_at"] is None and run["user"] is None and run["duration"] is None
    assert run["config"] == {} and run["config_internal"] == {} and run["summary"] == {}
    assert "sweep" not in run


def test_decode_run_node_sweep_object() -> None:
    run = decode_run_node({"name": "r", "sweep": {"name": "sw9"}}, entity="e", project="p")
    assert run["sweep"] == "sw9"


def test_decode_config_unwraps_one_level_only() -> None:
    node = {"config": '{"a": {"value": {"value": 1, "desc": "inner"}, "desc": null}, "b": {"x": 1}}'}
    run = decode_run_node(node, entity="e", project="p")
    assert run["config"] == {"a": {"value": 1, "desc": "inner"}, "b": {"x": 1}}


def test_decode_config_not_an_object_raises() -> None:
    with pytest.raises(ProtocolError):
        decode_run_node({"config": "[1, 2]"}, entity="e", project="p")


def test_loads_wandb_json_bare_nan_and_infinity() -> None:
    value = loads_wandb_json('{"a": NaN, "b": Infinity, "c": -Infinity, "d": [NaN]}')
    assert math.isnan(value["a"]) and value["b"] == math.inf and value["c"] == -math.inf
    assert math.isnan(value["d"][0])


def test_loads_wandb_json_control_characters() -> None:
    assert loads_wandb_json('{"log": "a\tb\nc"}') == {"log": "a\tb\nc"}


def test_loads_wandb_json_none_bytes_and_mappings() -> None:
    assert loads_wandb_json(None) == {}
    assert loads_wandb_json(b'{"a": 1}') == {"a": 1}
    assert loads_wandb_json({"a": 1}) == {"a": 1}


def test_loads_wandb_json_invalid_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        loads_wandb_json("{not json")
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-05T17:46:35", datetime(2023, 11, 5, 17, 46, 35, tzinfo=UTC)),
        ("2023-11-05T17:46:35Z", datetime(2023, 11, 5, 17, 46, 35, tzinfo=UTC)),
        ("2023-11-05T17:46:35+00:00", datetime(2023, 11, 5, 17, 46, 35, tzinfo=UTC)),
        ("2023-11-05T19:46:35+02:00", datetime(2023, 11, 5, 17, 46, 35, tzinfo=UTC)),
        ("2023-11-05T17:46:35.123456789Z", datetime(2023, 11, 5, 17, 46, 35, 123456, tzinfo=UTC)),
        (datetime(2023, 1, 1), datetime(2023, 1, 1, tzinfo=UTC)),
        (datetime(2023, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), datetime(2023, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_naive_z_and_offsets(text: str | datetime, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected and parsed.tzinfo is UTC


def test_parse_timestamp_garbage_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_timestamp("yesterday")


@pytest.mark.parametrize(
    "text",
    [
        '{"wandb_version": 1, "lr": {"value": 0.1}, "_wandb": {"value": {"t": 1}}}',
        '{"_wandb": {"value": {"t": 1}}, "lr": {"value": 0.1}, "wandb_version": 1}',
        '{"lr": {"value": 0.1}, "_wandb": {"value": {"t": 1}}}',
        '{"lr": {"value": 0.1}}',
    ],
)
def test_decode_config_internal_keys_keep_the_config_order(text: str) -> None:
    run = decode_run_node({"name": "r1", "config": text}, entity="e", project="p")
    unwrapped = {k: v["value"] if isinstance(v, dict) else v for k, v in json.loads(text).items()}
    assert list(run["config_internal"]) == [k for k in unwrapped if k in ("_wandb", "wandb_version")]
    assert run["config"] == {k: v for k, v in unwrapped.items() if k not in ("_wandb", "wandb_version")}
    assert {**run["config"], **run["config_internal"]} == unwrapped
