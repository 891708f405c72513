"""``local_runs`` frames, filters, order and histories; the same folder served over HTTP agrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pyarrow as pa
import pytest
from offline_support import MAIN, OTHER_PROJECT, PROJECT, Generated, expected_main_history

from wandb_frames.errors import CorruptRecordWarning
from wandb_frames.offline.local import LocalRuns, add_offline_runs, local_runs
from wandb_frames.testing import LocalServer


@pytest.fixture(scope="module")
def runs(generated: Generated) -> LocalRuns:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)  # the crashed run may be torn
        return local_runs(generated.wandb_dir, project=PROJECT, running_window=0)


@pytest.fixture(scope="module")
def server(generated: Generated) -> Iterator[LocalServer]:
    with LocalServer(entity="offline") as srv, warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        counts = add_offline_runs(srv, generated.wandb_dir, running_window=0)
        assert counts == {("offline", PROJECT): 3, ("offline", OTHER_PROJECT): 1}
        yield srv


def test_runs_frame(runs: LocalRuns, generated: Generated) -> None:
    df = runs.to_pandas().set_index("id")
    assert len(runs) == 3 and len(df) == 3
    main = df.loc[generated.ids["main"]]
    assert main["name"] == MAIN["name"] and main["state"] == "finished"
    assert main["config.model.layers"] == 6 and main["config.batch_size"] == 128
    assert main["config.lr"] == MAIN["config"]["lr"]
    assert main["summary.loss"] == -1.5 and main["summary.best_acc"] == 0.97
    assert main["summary.eval.name"] == "e35"
    assert list(main["tags"]) == MAIN["tags"]
    assert df.loc[generated.ids["failed"], "state"] == "failed"
    assert df.loc[generated.ids["crashed"], "state"] == "crashed"
    assert "config._wandb" not in df.columns
    assert runs.to_arrow().schema.field("created_at").type == pa.timestamp("us", tz="UTC")


def test_filters_and_order_evaluated_locally(generated: Generated) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)
        finished = local_runs(generated.wandb_dir, filters={"state": "finished"})
        by_expr = local_runs(generated.wandb_dir, filters="config.lr >= 0.1 and group == 'exp-b'")
        ordered = local_runs(generated.wandb_dir, order="-config.lr")
        tagged = local_runs(generated.wandb_dir, filters={"tags": {"$in": ["baseline"]}})
    assert sorted(r["id"] for r in finished) == sorted([generated.ids["main"], generated.ids["other"]])
    assert [r["id"] for r in by_expr] == [generated.ids["failed"]]
    assert [r["config"]["lr"] for r in ordered] == [0.5, 0.2, 0.1, 0.001]
    assert [r["id"] for r in tagged] == [generated.ids["main"]]
    assert ordered.to_arrow().column("id").to_pylist() == [r["id"] for r in ordered]


def test_long_histories(runs: LocalRuns, generated: Generated) -> None:
    long = runs.histories()
    assert long.column_names == ["run_id", "_step", "metric", "value", "_timestamp", "_runtime"]
    main = long.filter(pa.compute.equal(long["run_id"], generated.ids["main"])).to_pylist()
    got = {(r["_step"], r["metric"]): r["value"] for r in main}
    want = {(row["_step"], k): float(v) for row in expected_main_history() for k, v in row.items()
            if k != "_step" and isinstance(v, int | float)}
    assert got.keys() == want.keys()
    assert all(got[k] == want[k] or (got[k] != got[k] and want[k] != want[k]) for k in want)
    only_loss = runs.histories(keys=["loss"])
    assert set(only_loss.column("metric").to_pylist()) == {"loss"}
    system = runs.histories(stream="system")
    assert system.num_rows > 0 and system.column("_step").null_count == system.num_rows


def test_same_frames_over_http(runs: LocalRuns, server: LocalServer) -> None:
    from wandb_frames.api import Api

    api = Api(overrides={"base_url": server.url}, api_key=server.api_key, progress=False)
    remote = api.runs(f"offline/{PROJECT}").to_arrow()
    local = runs.to_arrow()
    drop = ["user"]  # offline files do not know the W&B username
    local_cols = [c for c in local.column_names if c not in drop]
    assert sorted(local_cols) == sorted(c for c in remote.column_names if c not in drop)
    remote = remote.select(local_cols)
    local = local.select(local_cols)
    assert remote.schema == local.schema
    for theirs, ours in zip(remote.to_pylist(), local.to_pylist(), strict=True):
        diff = {k: (theirs[k], ours[k]) for k in ours if theirs[k] != ours[k] and theirs[k] == theirs[k]}
        assert diff == {}


_OFFICIAL = r"""
import json, sys, wandb
api = wandb.Api(api_key=sys.argv[2], overrides={"base_url": sys.argv[1]})
out = {}
for run in api.runs(sys.argv[3]):
    rows = [{k: v for k, v in r.items() if k not in ("_timestamp", "_runtime") and v is not None}
            for r in run.scan_history()]
    out[run.id] = {"state": run.state, "config": dict(run.config), "tags": run.tags, "group": run.group,
                   "summary": {k: v for k, v in run.summary._json_dict.items() if not k.startswith("_")},
                   "history": rows}
print(json.dumps(out))
"""


def test_official_client_reads_served_offline_runs(runs: LocalRuns, server: LocalServer,
                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("official")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_SILENT="true", WANDB_ERROR_REPORTING="false", WANDB_DIR=str(home),
               WANDB_CACHE_DIR=str(home / "cache"), WANDB_CONFIG_DIR=str(home / "config"),
               WANDB_DATA_DIR=str(home / "data"), NETRC=str(home / "netrc"))
    proc = subprocess.run([sys.executable, "-c", _OFFICIAL, server.url, server.api_key, f"offline/{PROJECT}"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    official = json.loads(proc.stdout.strip().splitlines()[-1])
    for rec in runs:
        theirs = official[rec["id"]]
        assert theirs["state"] == rec["state"]
        assert theirs["config"] == {k: v for k, v in rec["config"].items() if k != "_wandb"}
        assert theirs["tags"] == rec["tags"] and theirs["group"] == rec.get("group")
        ours = {k: v for k, v in rec["summary"].items() if not k.startswith("_")}
        assert json.dumps(theirs["summary"], sort_keys=True) == json.dumps(ours, sort_keys=True)
        mine = [{k: v for k, v in r.items() if k not in ("_timestamp", "_runtime")} for r in rec["history"]]
        assert json.dumps(theirs["history"], sort_keys=True) == json.dumps(mine, sort_keys=True)
