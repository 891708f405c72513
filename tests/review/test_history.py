"""Review: history fetching validates before requests and never returns partial files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wandb_frames.api import Api
from wandb_frames.errors import ConfigurationError, IncompleteResultError
from wandb_frames.history import fetch_histories, fetch_run_history
from wandb_frames.history.fetch import fetch_run_long, scan_history_rows
from wandb_frames.history import parquet_getter
from wandb_frames.testing import LocalServer

from .conftest import ENTITY, PROJECT

IDS: dict[str, Any] = {"entity": ENTITY, "project": PROJECT}


def test_format_validated_before_any_request(api: Api, server: LocalServer) -> None:
    server.clear_requests()
    with pytest.raises(ConfigurationError, match="format"):
        fetch_run_history(api, parquet_getter(api), **IDS, run_id="r0001", format="bogus")  # type: ignore[arg-type]
    assert server.requests == []


@pytest.mark.parametrize("call", ["long", "scan", "many"])
def test_bare_string_keys_rejected_before_any_request(api: Api, server: LocalServer, call: str) -> None:
    server.clear_requests()
    get = parquet_getter(api)
    with pytest.raises(ConfigurationError, match="keys"):
        if call == "long":
            fetch_run_long(api, get, **IDS, run_id="r0001", keys="loss")
        elif call == "scan":
            list(scan_history_rows(api, get, **IDS, run_id="r0001", keys="loss"))
        else:
            fetch_histories(api, get, **IDS, run_ids=["r0001"], keys="loss")
    assert server.requests == []


def test_list_keys_still_work(api: Api) -> None:
    table = fetch_run_history(api, parquet_getter(api), **IDS, run_id="r0001", keys=["loss"])
    assert table.num_rows == 5 and set(table.column("metric").to_pylist()) == {"loss"}


def test_streamed_parquet_failure_is_an_incomplete_result(api: Api, tmp_path: Path) -> None:
    h = fetch_histories(api, parquet_getter(api), **IDS, run_ids=["r0001", "no-such-run", "r0002"],
                        max_workers=1)
    target = tmp_path / "h.parquet"
    with pytest.raises(IncompleteResultError) as info:
        h.to_parquet(target)
    assert "no-such-run" in str(info.value) and info.value.__cause__ is not None
    assert list(tmp_path.iterdir()) == []


def test_history_rows_with_raw_control_characters_decode() -> None:
    from wandb_frames.history.frames import decode_rows

    rows = decode_rows(['{"_step": 0, "caption": "a\tb", "loss": NaN}', '{"_step": 1, "loss": 0.5}'])
    assert rows[0]["caption"] == "a\tb" and rows[1] == {"_step": 1, "loss": 0.5}


def test_history_row_that_is_not_json_is_a_protocol_error() -> None:
    from wandb_frames.errors import ProtocolError
    from wandb_frames.history.frames import decode_rows

    with pytest.raises(ProtocolError):
        decode_rows(['{"_step": 0, '])
