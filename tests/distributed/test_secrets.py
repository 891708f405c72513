"""The API key stays out of Dask graphs, task keys, pickles and logs; workers resolve it themselves."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from wandb_frames.api import Api
from wandb_frames.distributed import ApiKeyPlugin, Connection, forget_api_keys, worker_session
from wandb_frames.errors import ConfigurationError
from wandb_frames.testing import LocalServer

_RECORDS: list[str] = []


def _capture_all_logs() -> None:
    """Run on each worker: keep every log record (DEBUG and up) of every logger."""

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _RECORDS.append(self.format(record))

    root = logging.getLogger()
    root.addHandler(Keep(level=logging.DEBUG))
    root.setLevel(logging.DEBUG)
    logging.getLogger("wandb_frames").setLevel(logging.DEBUG)


def _captured() -> str:
    return "\n".join(_RECORDS)


def _collections(api: Api) -> list[Any]:
    runs = api.runs("local/alpha", filters={"config.opt": "sgd"})
    return [
        runs.to_dask(batch_size=4, meta="scan"),
        runs.history_frames(keys=["loss"], with_config=["lr"]).to_dask(batch_size=3),
        runs.history_frames(keys=["loss"]).to_dask(batch_size=3, format="wide"),
    ]


def test_key_in_no_graph_key_repr_or_pickle(api: Api, server: LocalServer) -> None:
    key = server.api_key
    for ddf in _collections(api):
        graph = ddf.__dask_graph__()
        texts = [str(ddf), repr(ddf), str(graph), repr(graph), repr(dict(graph)),
                 repr(ddf.__dask_keys__()), str(ddf.expr), repr(ddf.dask)]
        assert not any(key in text for text in texts)
        for dump in (pickle.dumps, cloudpickle.dumps):
            for obj in (ddf, graph, dict(graph)):
                assert key.encode() not in dump(obj)
        optimized = ddf.optimize().__dask_graph__()
        assert key.encode() not in cloudpickle.dumps(dict(optimized))


def test_export_tasks_carry_no_key(api: Api, server: LocalServer, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import dask

    seen: list[Any] = []
    compute = dask.compute

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.extend(args)
        return compute(*args, scheduler="sync")

    monkeypatch.setattr(dask, "compute", spy)
    runs = api.runs("local/alpha")
    runs.to_parquet(tmp_path / "runs", partition_by="batch", batch_size=5, use_dask=True)
    runs.history_frames(keys=["loss"]).to_parquet(tmp_path / "h", partition_by="batch", batch_size=5, use_dask=True)
    assert len(seen) == 5 + 5
    for task in seen:
        assert server.api_key not in repr(task) and server.api_key not in repr(task.key)
        assert server.api_key.encode() not in cloudpickle.dumps(task)
        assert server.api_key.encode() not in cloudpickle.dumps(dict(task.__dask_graph__()))


def test_key_in_no_scheduler_or_worker_log(api: Api, server: LocalServer, client: Any,
                                           caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    client.run(_capture_all_logs)
    client.run_on_scheduler(_capture_all_logs)
    with caplog.at_level(logging.DEBUG):
        for ddf in _collections(api):
            ddf.compute()
        api.runs("local/alpha").history_frames(keys=["acc"]).to_parquet(
            tmp_path / "h", partition_by="batch", batch_size=6, use_dask=True)
    worker_logs = client.run(_captured)
    assert all("POST /graphql" in text for text in worker_logs.values())  # the requests were logged
    texts = [caplog.text, str(client.get_worker_logs()), str(client.get_scheduler_logs()),
             str(client.run_on_scheduler(_captured)), *worker_logs.values()]
    assert all(server.api_key not in text for text in texts)


def test_reprs_hide_the_key(api: Api, server: LocalServer) -> None:
    plugin = ApiKeyPlugin(api)
    connection = Connection.of(api)
    assert server.api_key not in repr(plugin) and "<hidden>" in repr(plugin)
    assert server.api_key not in repr(connection)
    assert server.api_key.encode() not in pickle.dumps(connection)
    assert server.api_key not in repr(worker_session(connection))


def test_workers_resolve_the_key_from_environment_or_netrc(
    api: Api, server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = api.runs("local/alpha", columns=["id", "state"])
    ddf = runs.to_dask(batch_size=10)
    expected = runs.to_pandas(dtype_backend="pyarrow")
    empty_netrc = tmp_path / "empty-netrc"
    empty_netrc.write_text("")
    monkeypatch.setenv("NETRC", str(empty_netrc))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    try:
        forget_api_keys()  # as on a fresh worker
        with pytest.raises(ConfigurationError, match="no API key") as raised:
            ddf.compute(scheduler="sync")
        assert "docs/scale.md" in str(raised.value)
        monkeypatch.setenv("WANDB_API_KEY", server.api_key)
        assert ddf.compute(scheduler="sync").reset_index(drop=True).equals(expected)
        forget_api_keys()
        monkeypatch.delenv("WANDB_API_KEY")
        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login user password {server.api_key}\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        assert ddf.compute(scheduler="sync").reset_index(drop=True).equals(expected)
    finally:
        forget_api_keys()
