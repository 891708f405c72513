"""Pandas habits on the default frames, fetched over HTTP from the local server.

The runs mix a diverged run (NaN loss), an exploded one (+inf), -inf rewards, keys some runs
never logged, list columns, a JSON-text column and 64-bit seeds beyond 2**53
(``habits_support``). ``Runs.to_pandas()``, ``Histories.to_pandas()/to_wide()`` and
``Run.history()`` must take groupby/mean/describe/dropna/isna, scikit-learn, seaborn,
plotly, ``describe(include="all")`` and ``convert_dtypes`` as pandas users write them;
``to_arrow()``, parquet and polars keep NaN apart from null (docs/frames.md, "pandas frames").
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

import wandb_frames as wf
from wandb_frames.errors import LossyConversionWarning
from wandb_frames.resources.runs import Runs
from wandb_frames.tabular import table_to_pandas
from wandb_frames.testing import LocalServer

from . import habits_support as seed
from .habits_support import LOSS, MISSING, N, REWARD, SEEDS, is_missing_in_pandas

matplotlib.use("Agg")

#: ±inf metrics make NumPy warn inside describe()/std and colour scales, as with any frame.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(entity=seed.ENTITY) as srv:
        srv.add_runs(seed.ENTITY, seed.PROJECT, seed.records())
        yield srv


@pytest.fixture(scope="module")
def api(server: LocalServer) -> wf.Api:
    return wf.Api(api_key=server.api_key, overrides={"base_url": server.url}, progress=False)


@pytest.fixture(scope="module")
def runs(api: wf.Api) -> Runs:
    runs = api.runs(f"{seed.ENTITY}/{seed.PROJECT}", order="+created_at")
    with pytest.warns(LossyConversionWarning, match="config.warmup"):  # 4000 and "auto"
        runs.to_arrow()
    return runs


@pytest.fixture()
def df(runs: Runs) -> pd.DataFrame:
    frame = runs.to_pandas()
    assert frame["id"].tolist() == [seed.run_id(i) for i in range(N)]
    return frame


def _present(values: list[Any]) -> list[Any]:
    return [v for v in values if not is_missing_in_pandas(v)]


# ----------------------------------------------------------------------------- types


def test_default_frame_has_numpy_columns_and_exact_integers(df: pd.DataFrame) -> None:
    assert df["summary.eval/loss"].dtype == np.float64 and df["config.lr"].dtype == np.float64
    assert df["config.seed"].dtype == np.int64
    assert df["config.seed"].tolist() == SEEDS  # exact beyond 2**53
    assert str(df["config.data_seed"].dtype) == "Int64"  # a missing value: nullable, still exact
    assert [None if v is pd.NA else v for v in df["config.data_seed"]] == [
        None if v is MISSING else v for v in seed.DATA_SEEDS
    ]
    assert str(df["config.batch_size"].dtype) == "Int64" and str(df["config.amp"].dtype) == "boolean"
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]"
    assert df["tags"].tolist() == [tuple(t) for t in seed.TAGS]
    assert df["config.layers"].tolist() == [tuple(v) for v in seed.LAYERS]
    assert df.attrs["wandb_frames"]["json_columns"] == ["config.warmup"]


# ----------------------------------------------------------------------------- missing values


def test_isna_and_dropna_treat_a_nan_metric_as_missing(df: pd.DataFrame) -> None:
    assert df["summary.eval/loss"].isna().tolist() == [is_missing_in_pandas(v) for v in LOSS]
    kept = df.dropna(subset=["summary.eval/loss"])
    assert kept["id"].tolist() == [seed.run_id(i) for i, v in enumerate(LOSS) if not is_missing_in_pandas(v)]
    assert kept["summary.eval/loss"].tolist() == _present(LOSS)  # +inf is a value, kept
    assert df["summary.reward"].isna().sum() == sum(map(is_missing_in_pandas, REWARD))
    assert (df["summary.reward"] == -math.inf).sum() == REWARD.count(-math.inf)


def test_groupby_mean_skips_diverged_and_missing_runs(df: pd.DataFrame) -> None:
    expected = {}
    for name in sorted({seed.group(i) for i in range(N)}):
        values = _present([LOSS[i] for i in range(N) if seed.group(i) == name])
        expected[name] = statistics.fmean(values) if values else math.nan
    got = df.groupby("group")["summary.eval/loss"].mean().to_dict()
    assert got == expected  # g0: mean(0.5, 0.25) despite r1's NaN; g1: +inf
    assert df["summary.eval/loss"].mean() == math.inf
    finite = df.loc[np.isfinite(df["summary.eval/loss"]), "summary.eval/loss"]
    assert finite.mean() == statistics.fmean(v for v in _present(LOSS) if math.isfinite(v))


def test_describe_with_64_bit_seeds_and_nan_metrics(df: pd.DataFrame) -> None:
    table = df.describe()
    assert table.loc["count", "summary.eval/loss"] == len(_present(LOSS))
    assert table.loc["count", "config.seed"] == N
    assert table.loc["max", "config.seed"] == float(max(SEEDS))
    assert table.loc["min", "config.seed"] == float(min(SEEDS))
    assert table.loc["count", "config.data_seed"] == len(_present(seed.DATA_SEEDS))
    assert table.loc["count", "config.batch_size"] == len(_present(seed.BATCH))
    assert table.loc["max", "summary.acc"] == (N - 1) / 10


def test_describe_include_all_with_list_columns(df: pd.DataFrame) -> None:
    table = df.describe(include="all")
    assert table.loc["count", "tags"] == N
    assert table.loc["unique", "tags"] == len({tuple(t) for t in seed.TAGS})
    assert table.loc["unique", "config.layers"] == len({tuple(v) for v in seed.LAYERS})
    assert table.loc["top", "config.layers"] == (64, 64)
    assert table.loc["unique", "config.optimizer"] == 2
    assert table.loc["count", "summary.eval/loss"] == len(_present(LOSS))


def test_nunique_value_counts_and_groupby_on_list_columns(df: pd.DataFrame) -> None:
    assert df["tags"].nunique() == len({tuple(t) for t in seed.TAGS})
    assert df["tags"].value_counts()[("baseline",)] == seed.TAGS.count(["baseline"])
    assert df.drop_duplicates(subset=["config.layers"])["config.layers"].tolist() == list(
        dict.fromkeys(tuple(v) for v in seed.LAYERS)
    )
    assert df.groupby("config.layers")["summary.acc"].count().sum() == N
    assert df["tags"].explode().dropna().tolist() == [t for tags in seed.TAGS for t in tags]
    assert df["tags"].apply(lambda tags: "baseline" in tags).sum() == sum("baseline" in t for t in seed.TAGS)
    # Element-wise comparisons and replace() do not trip on list cells (NumPy arrays would).
    assert not (df["tags"] == "baseline").any()
    assert df.replace([np.inf, -np.inf], np.nan)["summary.eval/loss"].isna().sum() == sum(
        is_missing_in_pandas(v) or math.isinf(v) for v in LOSS
    )


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_convert_dtypes_keeps_seeds_and_missing_values(df: pd.DataFrame, backend: Any) -> None:
    converted = df.convert_dtypes(dtype_backend=backend)
    assert converted["config.seed"].tolist() == SEEDS
    assert converted["summary.eval/loss"].isna().tolist() == [is_missing_in_pandas(v) for v in LOSS]
    assert converted["summary.eval/loss"].dropna().tolist() == _present(LOSS)
    assert converted["tags"].tolist() == df["tags"].tolist()
    assert df.convert_dtypes()["config.data_seed"].dropna().tolist() == _present(seed.DATA_SEEDS)


# ----------------------------------------------------------------------------- libraries


def test_scikit_learn_fits_after_the_usual_cleaning(df: pd.DataFrame) -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    clean = df.replace([np.inf, -np.inf], np.nan).dropna(subset=["summary.eval/loss"])
    rows = [i for i, v in enumerate(LOSS) if not is_missing_in_pandas(v) and math.isfinite(v)]
    assert clean["id"].tolist() == [seed.run_id(i) for i in rows]
    model = LinearRegression().fit(clean[["config.lr"]], clean["summary.eval/loss"])
    slope, _ = np.polyfit([seed.lr(i) for i in rows], [LOSS[i] for i in rows], 1)
    assert model.coef_[0] == pytest.approx(slope)
    # Int64 and boolean columns with missing values go through an imputer as NaN.
    features = ["config.lr", "config.batch_size", "config.amp", "summary.acc"]
    fitted = make_pipeline(SimpleImputer(), LinearRegression()).fit(clean[features], clean["summary.eval/loss"])
    assert fitted.predict(clean[features]).shape == (len(rows),)


def test_seaborn_hue_size_and_heatmap(df: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    try:
        _, ax = plt.subplots()  # a fresh figure: pyplot's current axes may hold another test's plot
        sns.scatterplot(data=df, x="config.lr", y="summary.acc", hue="summary.reward", size="config.batch_size", ax=ax)
        drawn = ax.collections[0].get_offsets()
        # seaborn leaves out rows where an assigned variable is missing (here NaN reward or no batch size).
        expected = [i for i in range(N) if not is_missing_in_pandas(REWARD[i]) and seed.BATCH[i] is not MISSING]
        assert sorted(float(x) for x in drawn[:, 0]) == sorted(seed.lr(i) for i in expected)
        assert ax.get_legend() is not None
        plt.close("all")

        pivot = df.pivot_table(index="config.optimizer", columns="group", values="summary.eval/loss")
        _, heat = plt.subplots()
        sns.heatmap(pivot.replace([np.inf, -np.inf], np.nan), annot=True, ax=heat)
        sgd_g0 = statistics.fmean(_present([LOSS[i] for i in range(3) if i % 2 == 0]))
        assert pivot.loc["sgd", "g0"] == sgd_g0  # r0 and r2; r1 (adam) diverged anyway
        assert np.ma.getdata(heat.collections[0].get_array()).size == pivot.size
        plt.close("all")

        grid = sns.relplot(data=df, x="config.lr", y="summary.acc", hue="summary.eval/loss", size="config.lr")
        assert grid.legend is not None
    finally:
        plt.close("all")


def test_plotly_express_colour_size_and_lines(df: pd.DataFrame, runs: Runs) -> None:
    import plotly.express as px

    fig = px.scatter(df, x="config.lr", y="summary.eval/loss", color="summary.acc", size="config.lr",
                     hover_data=["config.seed"])
    ys = list(fig.data[0].y)
    assert [math.isnan(y) for y in ys] == [is_missing_in_pandas(v) for v in LOSS]
    assert [int(row[0]) for row in fig.data[0].customdata] == SEEDS
    long = runs.history_frames(keys=["loss"]).to_pandas()
    lines = px.line(long, x="_step", y="value", color="run_id")
    assert len(lines.data) == N


# ----------------------------------------------------------------------------- histories


def test_histories_to_pandas_habits(runs: Runs) -> None:
    histories = runs.history_frames(keys=["loss"], with_config=["lr", "seed"])
    long = histories.to_pandas()
    assert long["value"].dtype == np.float64 and long["config.seed"].dtype == np.int64
    assert str(long["metric"].dtype) == "category"
    expected = {}
    for i in range(N):
        values = [row["loss"] for row in seed.history(i) if not math.isnan(row["loss"])]
        expected[seed.run_id(i)] = statistics.fmean(values)
    assert long.groupby("run_id")["value"].mean().to_dict() == pytest.approx(expected)
    assert long["value"].isna().sum() == sum(math.isnan(r["loss"]) for i in range(N) for r in seed.history(i))
    wide = histories.to_wide()
    table = wide.describe()  # 64-bit seeds attached to every row
    assert table.loc["max", "config.seed"] == float(max(SEEDS))
    assert wide.dropna(subset=["loss"]).shape[0] == long["value"].notna().sum()

    import matplotlib.pyplot as plt
    import seaborn as sns

    try:
        grid = sns.relplot(data=long, x="_step", y="value", hue="config.lr", kind="line")
        assert grid.legend is not None
    finally:
        plt.close("all")


def test_run_history_is_the_same_default_frame(api: wf.Api) -> None:
    frame = api.run(f"{seed.ENTITY}/{seed.PROJECT}/r1").history()
    assert frame["loss"].dtype == np.float64
    assert frame["loss"].isna().tolist() == [math.isnan(r["loss"]) for r in seed.history(1)]
    assert frame["loss"].mean() == statistics.fmean(r["loss"] for r in seed.history(1) if not math.isnan(r["loss"]))


# ----------------------------------------------------------------------------- exact values


def test_to_arrow_parquet_and_polars_keep_nan_apart_from_null(runs: Runs, tmp_path: Path) -> None:
    def cells(values: list[Any]) -> list[Any]:
        return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]

    expected = ["nan" if v is not MISSING and math.isnan(v) else (None if v is MISSING else v) for v in LOSS]
    table = runs.to_arrow()
    assert cells(table["summary.eval/loss"].to_pylist()) == expected
    path = runs.to_parquet(tmp_path / "runs.parquet")
    assert cells(wf.read_parquet(path)["summary.eval/loss"].to_pylist()) == expected
    polars = runs.to_polars()
    assert cells(polars["summary.eval/loss"].to_list()) == expected
    assert polars["config.seed"].to_list() == SEEDS
    assert polars["tags"].to_list() == seed.TAGS
    pyarrow_frame = runs.to_pandas(dtype_backend="pyarrow")
    assert pyarrow_frame["summary.eval/loss"].isna().tolist() == [is_missing_in_pandas(v) for v in LOSS]
    assert pyarrow_frame["config.seed"].tolist() == SEEDS


def test_histories_to_polars_is_exact(runs: Runs) -> None:
    long = runs.history_frames(keys=["loss"]).to_polars()
    assert long.height == 4 * N
    assert long["value"].is_nan().sum() == sum(math.isnan(r["loss"]) for i in range(N) for r in seed.history(i))
    assert long["value"].null_count() == 0


def test_read_parquet_to_pandas_keeps_json_markers_for_where(runs: Runs, tmp_path: Path) -> None:
    path = runs.to_parquet(tmp_path / "runs.parquet")
    frame = wf.read_parquet(path).to_pandas()  # pyarrow's own Table.to_pandas
    assert frame.attrs["wandb_frames"]["json_columns"] == ["config.warmup"]
    expected = [seed.run_id(i) for i, w in enumerate(seed.WARMUP) if w == 4000]
    assert frame.wb.where({"config.warmup": 4000})["id"].tolist() == expected
    assert frame.wb.where({"config.warmup": "auto"})["id"].tolist() == [
        seed.run_id(i) for i, w in enumerate(seed.WARMUP) if w == "auto"
    ]
    assert frame.wb.where({"config.warmup": {"$gt": 1000}})["id"].tolist() == expected  # numbers only
    same = table_to_pandas(wf.read_parquet(path))  # what Runs.to_pandas() gives
    pd.testing.assert_frame_equal(same, runs.to_pandas())
    assert same.attrs == runs.to_pandas().attrs
    selected = wf.read_parquet(path, columns=["id", "config.warmup"]).to_pandas()
    assert selected.wb.where({"config.warmup": 4000})["id"].tolist() == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert wf.read_parquet(path, columns=["id"]).to_pandas().attrs == {}
