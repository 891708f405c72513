"""Review: ``LocalRuns.histories`` validates its arguments like the HTTP client."""

from __future__ import annotations

from pathlib import Path

import pytest

from wandb_frames.errors import ConfigurationError
from wandb_frames.offline.local import LocalRuns
from wandb_frames.offline.reader import OfflineRun


def _runs() -> LocalRuns:
    record = {"id": "o1", "history": [{"_step": s, "_runtime": 1.0, "_timestamp": 1.7e9 + s, "loss": 0.5}
                                      for s in range(3)]}
    return LocalRuns([OfflineRun(Path("run-o1.wandb"), "e", "p", record)])  # type: ignore[arg-type]


def test_bare_string_keys_rejected() -> None:
    runs = _runs()
    assert runs.histories(keys=["loss"]).num_rows == 3
    with pytest.raises(ConfigurationError, match="keys"):
        runs.histories(keys="loss")


def test_unknown_stream_rejected() -> None:
    with pytest.raises(ConfigurationError, match="stream"):
        _runs().histories(stream="events")


def _three() -> list[OfflineRun]:
    return [
        OfflineRun(Path(f"run-o{i}.wandb"), "e", "p", {  # type: ignore[arg-type]
            "id": f"o{i}", "config": {"lr": 0.1 * (i + 1), "opt": {"name": "adam" if i else "sgd"}},
            "summary": {"loss": 1.0 - 0.1 * i},
        })
        for i in range(3)
    ]


@pytest.mark.parametrize("sep", [".", "/", "__"])
def test_filter_and_order_do_not_depend_on_sep(sep: str) -> None:
    runs = LocalRuns(_three(), filters={"config.lr": {"$gt": 0.15}, "config.opt.name": "adam"},
                     order="-summary.loss", sep=sep)
    table = runs.to_arrow()
    assert table.column("id").to_pylist() == ["o1", "o2"]
    assert [r["id"] for r in runs] == ["o1", "o2"]
    assert f"config{sep}lr" in table.column_names and f"config{sep}opt{sep}name" in table.column_names


def test_bad_filter_fails_before_reading_files(tmp_path: Path) -> None:
    from wandb_frames.errors import FilterSyntaxError
    from wandb_frames.offline import local_runs

    with pytest.raises(FilterSyntaxError):
        local_runs(tmp_path / "does-not-exist", filters={"config.lr": {"$gtx": 1}})
