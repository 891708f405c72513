"""``LocalRuns.to_dask()``: partitions decode their own ``.wandb`` files and equal the local frames."""

from __future__ import annotations

import pickle
import warnings

import pandas as pd
import pytest
from offline_support import PROJECT, Generated

from wandb_frames.errors import ConfigurationError, CorruptRecordWarning
from wandb_frames.tabular import table_to_pandas
from wandb_frames.offline.local import local_runs

pytest.importorskip("dask.dataframe")


def test_offline_runs_and_histories_as_dask(generated: Generated) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRecordWarning)  # the crashed run may be torn
        runs = local_runs(generated.wandb_dir, running_window=0, order="-created_at")
        ddf = runs.to_dask(batch_size=2)
        assert ddf.npartitions == 2
        assert b".wandb" in pickle.dumps(ddf)  # partitions carry file paths, not decoded runs
        got = ddf.compute(scheduler="sync")
        pd.testing.assert_frame_equal(got.reset_index(drop=True), runs.to_pandas(dtype_backend="pyarrow"))
        selected = local_runs(generated.wandb_dir, filters={"project": PROJECT}, running_window=0)
        for keys, stream in ((None, "default"), (["loss"], "default"), (None, "system")):
            history = selected.to_dask("history", batch_size=1, keys=keys, stream=stream).compute(scheduler="sync")
            expected = table_to_pandas(selected.histories(keys, stream=stream), dtype_backend="pyarrow")
            pd.testing.assert_frame_equal(history.reset_index(drop=True), expected)
    with pytest.raises(ConfigurationError, match="dtype_backend"):
        runs.to_dask(dtype_backend=None)  # type: ignore[arg-type]  # NumPy dtypes vary by partition
    with pytest.raises(ConfigurationError, match="kind"):
        runs.to_dask("nope")  # type: ignore[arg-type]
