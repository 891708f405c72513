"""Plot helpers on real frames from LocalServer: what is drawn, labelled and saved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from plots_support import PlotData

from wandb_frames.errors import ConfigurationError
from wandb_frames.plots import parallel_coordinates, plot_curves, summary_scatter

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _legend_texts(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def _save_png(fig: Figure, path: Path) -> bytes:
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    return data


def _loss_rows(long: pd.DataFrame) -> pd.DataFrame:
    rows = long[long["metric"] == "loss"]
    return pd.DataFrame({
        "run_id": rows["run_id"].astype(str).to_numpy(),
        "_step": rows["_step"].to_numpy(dtype="float64"),
        "value": rows["value"].to_numpy(dtype="float64", na_value=np.nan),
        "lr": rows["config.optimizer.lr"].to_numpy(dtype="float64", na_value=np.nan),
        "name": rows["config.optimizer.name"].astype(str).to_numpy(),
    })


# ------------------------------------------------------------------------- plot_curves
def test_curves_quantile_bins_draw_mean_lines_and_std_bands(plot_data: PlotData, tmp_path: Path) -> None:
    fig = plot_curves(plot_data.long, "loss", hue="config.optimizer.lr", bins=4)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 4
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 4
    assert ax.get_xlabel() == "_step" and ax.get_ylabel() == "loss"
    labels = _legend_texts(fig)
    assert len(labels) == 4 and fig.axes[0].get_legend().get_title().get_text() == "config.optimizer.lr"
    lows = [float(label.split("–")[0]) for label in labels]
    assert lows == sorted(lows)  # bins in increasing learning rate

    # The first group's line is the mean over its runs at each step (checked independently).
    rows = _loss_rows(plot_data.long)
    per_run = rows.groupby("run_id")["lr"].first()
    edges = np.quantile(per_run.to_numpy(), np.linspace(0, 1, 5))
    first = rows[rows["lr"] < edges[1]]
    expected = first.groupby("_step")["value"].agg(["mean", "std"])
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), expected.index.to_numpy())
    np.testing.assert_allclose(line.get_ydata(), expected["mean"].to_numpy())
    # The band spans mean ± std: its outline reaches exactly those extremes.
    band = bands[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx((expected["mean"] + expected["std"]).max())
    assert band[:, 1].min() == pytest.approx((expected["mean"] - expected["std"]).min())
    _save_png(fig, tmp_path / "curves.png")


def test_curves_one_line_per_run_coloured_by_category(plot_data: PlotData, tmp_path: Path) -> None:
    fig = plot_curves(plot_data.long, "loss", hue="optimizer.name", band=None)
    ax = fig.axes[0]
    rows = _loss_rows(plot_data.long)
    assert len(ax.get_lines()) == rows["run_id"].nunique()
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert _legend_texts(fig) == sorted(rows["name"].unique())
    run_name = rows.groupby("run_id")["name"].first()
    colours_by_name: dict[str, set[tuple[float, ...]]] = {}
    for line in ax.get_lines():  # each line's gid is its run ID
        colours_by_name.setdefault(run_name[line.get_gid()], set()).add(tuple(line.get_color()))
    assert all(len(c) == 1 for c in colours_by_name.values())
    assert len({next(iter(c)) for c in colours_by_name.values()}) == len(colours_by_name)
    _save_png(fig, tmp_path / "runs.png")


def test_curves_few_numeric_values_give_one_group_each(plot_data: PlotData) -> None:
    fig = plot_curves(plot_data.grid_long, "loss", hue="config.optimizer.lr")
    lrs = sorted(set(plot_data.grid_long["config.optimizer.lr"].dropna()))
    assert 1 < len(lrs) <= 5
    assert _legend_texts(fig) == [f"{v:.3g}" for v in lrs]
    assert len(fig.axes[0].get_lines()) == len(lrs)


def test_curves_many_numeric_values_are_binned_automatically(plot_data: PlotData) -> None:
    fig = plot_curves(plot_data.long, "loss", hue="config.optimizer.lr")
    assert len(_legend_texts(fig)) == 5


def test_curves_without_hue_draw_one_mean_line(plot_data: PlotData) -> None:
    fig = plot_curves(plot_data.long, "eval/loss")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 1 and ax.get_legend() is None
    assert ax.get_ylabel() == "eval/loss"
    assert ax.get_lines()[0].get_xdata()[1] == 10  # eval/loss is logged every 10th step


def test_curves_missing_hue_values_form_a_grey_group(plot_data: PlotData) -> None:
    fig = plot_curves(plot_data.long, "loss", hue="group", band=None)
    labels = _legend_texts(fig)
    assert labels[-1] == "(none)"
    assert labels[:-1] == sorted(plot_data.long["group"].dropna().unique())


def test_curves_accept_arrow_tables_and_draw_on_given_axes(plot_data: PlotData) -> None:
    table = pa.Table.from_pandas(plot_data.long, preserve_index=False)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_curves(table, "loss", hue="config.optimizer.lr", bins=2, ax=ax) is fig
    assert len(ax.get_lines()) == 2


def test_curves_errors_name_what_is_wrong(plot_data: PlotData) -> None:
    with pytest.raises(ConfigurationError, match=r"no points of metric 'los'.*'loss'"):
        plot_curves(plot_data.long, "los")
    with pytest.raises(ConfigurationError, match="no column 'config.nope'"):
        plot_curves(plot_data.long, "loss", hue="config.nope")
    with pytest.raises(ConfigurationError, match="bins needs a numeric hue"):
        plot_curves(plot_data.long, "loss", hue="config.optimizer.name", bins=3)
    with pytest.raises(ConfigurationError, match="bins must be a positive integer"):
        plot_curves(plot_data.long, "loss", hue="config.optimizer.lr", bins=0)
    with pytest.raises(ConfigurationError, match="band must be"):
        plot_curves(plot_data.long, "loss", band="sem")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"histories_long has no '\w+' column"):
        plot_curves(plot_data.runs, "loss")


# ---------------------------------------------------------------- parallel_coordinates
def test_parallel_coordinates_normalised_axes_coloured_by_metric(plot_data: PlotData, tmp_path: Path) -> None:
    params = ["optimizer.lr", "optimizer.weight_decay", "model.dropout"]
    fig = parallel_coordinates(plot_data.sweep, params, "eval/loss")
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    sweep = plot_data.sweep[np.isfinite(plot_data.sweep["summary.eval/loss"].to_numpy("float64", na_value=np.nan))]
    assert len(lines.get_segments()) == len(sweep) > 2  # a diverged run (NaN loss) is left out
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "config.optimizer.lr (log)", "config.optimizer.weight_decay (log)", "config.model.dropout",
        "summary.eval/loss",
    ]
    ys = np.array([segment[:, 1] for segment in lines.get_segments()])
    assert ys.min() == 0.0 and ys.max() == 1.0
    np.testing.assert_allclose(ys.min(axis=0), 0.0)
    np.testing.assert_allclose(ys.max(axis=0), 1.0)
    # The learning-rate axis is logarithmic: position = (log lr - log min) / (log max - log min).
    lr = np.log10(sweep["config.optimizer.lr"].to_numpy(dtype="float64"))
    np.testing.assert_allclose(ys[:, 0], (lr - lr.min()) / (lr.max() - lr.min()))
    # Colours follow the metric; the metric axis is linear.
    metric = sweep["summary.eval/loss"].to_numpy(dtype="float64")
    np.testing.assert_allclose(lines.get_array(), metric)
    np.testing.assert_allclose(ys[:, -1], (metric - metric.min()) / (metric.max() - metric.min()))
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "summary.eval/loss"  # colour bar
    _save_png(fig, tmp_path / "parallel.png")


def test_parallel_coordinates_categories_and_dropped_runs(plot_data: PlotData) -> None:
    fig = parallel_coordinates(plot_data.runs, ["optimizer.name", "model.dropout"], "summary.eval/loss")
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    complete = plot_data.runs.dropna(subset=["config.optimizer.name", "config.model.dropout", "summary.eval/loss"])
    complete = complete[np.isfinite(complete["summary.eval/loss"].to_numpy(dtype="float64"))]
    assert len(lines.get_segments()) == len(complete)
    names = sorted(complete["config.optimizer.name"].unique())
    firsts = sorted({round(float(s[0, 1]), 9) for s in lines.get_segments()})
    assert firsts == [round(i / (len(names) - 1), 9) for i in range(len(names))]
    texts = {t.get_text() for t in ax.texts}
    assert set(names) <= texts


def test_parallel_coordinates_errors(plot_data: PlotData) -> None:
    with pytest.raises(ConfigurationError, match="non-empty list"):
        parallel_coordinates(plot_data.sweep, [], "eval/loss")
    with pytest.raises(ConfigurationError, match="non-empty list"):
        parallel_coordinates(plot_data.sweep, "optimizer.lr", "eval/loss")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no column 'accuracy'"):
        parallel_coordinates(plot_data.sweep, ["optimizer.lr"], "accuracy")


# --------------------------------------------------------------------- summary_scatter
def test_summary_scatter_categorical_hue(plot_data: PlotData, tmp_path: Path) -> None:
    fig = summary_scatter(plot_data.runs, "optimizer.lr", "eval/loss", hue="optimizer.name")
    ax = fig.axes[0]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    runs = plot_data.runs
    lr = runs["config.optimizer.lr"].to_numpy(dtype="float64", na_value=np.nan)
    loss = runs["summary.eval/loss"].to_numpy(dtype="float64", na_value=np.nan)
    drawn = np.isfinite(lr) & np.isfinite(loss)
    assert sum(len(p.get_offsets()) for p in points) == int(drawn.sum())
    assert _legend_texts(fig) == sorted(runs["config.optimizer.name"].dropna().unique())
    assert ax.get_xlabel() == "config.optimizer.lr" and ax.get_ylabel() == "summary.eval/loss"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    adam = points[0].get_offsets()
    expected = runs[drawn & (runs["config.optimizer.name"] == "adam").fillna(False).to_numpy()]
    assert sorted(adam[:, 0]) == sorted(expected["config.optimizer.lr"].to_numpy(dtype="float64"))
    _save_png(fig, tmp_path / "scatter.png")


def test_summary_scatter_numeric_hue_has_a_colour_bar(plot_data: PlotData) -> None:
    fig = summary_scatter(plot_data.runs, "config.model.dropout", "summary.eval/loss", hue="duration")
    (points,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "duration"
    assert np.isfinite(points.get_array()).all()


def test_summary_scatter_errors(plot_data: PlotData) -> None:
    with pytest.raises(ConfigurationError, match="no column 'nope'"):
        summary_scatter(plot_data.runs, "nope", "summary.eval/loss")
    with pytest.raises(ConfigurationError, match="must be a pandas DataFrame"):
        summary_scatter([1, 2], "a", "b")


# ----------------------------------------------------------------- imports and headless
def test_core_never_imports_matplotlib_and_plots_stays_headless(tmp_path: Path) -> None:
    script = f"""
import sys
import wandb_frames
assert "matplotlib" not in sys.modules, "wandb_frames imported matplotlib"
assert "wandb_frames.plots" not in sys.modules
import pandas as pd
from wandb_frames.plots import plot_curves
assert "matplotlib.pyplot" not in sys.modules
frame = pd.DataFrame({{"run_id": ["a", "a", "b", "b"], "_step": [0, 1, 0, 1],
                       "metric": ["loss"] * 4, "value": [1.0, 0.5, 0.9, 0.4]}})
fig = plot_curves(frame)
fig.savefig({str(tmp_path / "headless.png")!r})
assert type(fig.canvas).__name__ == "FigureCanvasAgg", type(fig.canvas)
assert "matplotlib.pyplot" not in sys.modules
"""
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND"}}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "headless.png").read_bytes().startswith(PNG_MAGIC)


def test_pyplot_users_get_pyplot_figures(plot_data: PlotData) -> None:
    import matplotlib.pyplot as plt

    fig = plot_curves(plot_data.long, "loss")
    try:
        assert fig.number in plt.get_fignums()  # managed by pyplot: plt.show() / inline display work
    finally:
        plt.close(fig)
