"""Plot helpers over runs frames and long history frames (matplotlib; the ``plot`` extra).

:func:`plot_curves` (one metric over steps, runs grouped by a column, mean ± std bands or
one line per run), :func:`parallel_coordinates` (a sweep on normalised axes, coloured by the
metric) and :func:`summary_scatter` each return the matplotlib ``Figure`` drawn on.

Nothing in :mod:`wandb_frames` imports this module or matplotlib. Without ``ax=``, the new
figure is: in Jupyter, a pyplot figure closed at once (the returned figure is shown exactly
once); after ``import matplotlib.pyplot``, a pyplot figure (``plt.show()`` works); otherwise
a plain ``Figure`` on the Agg canvas (headless, no global registry; ``fig.savefig(...)``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from wandb_frames.errors import ConfigurationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["parallel_coordinates", "plot_curves", "summary_scatter"]

Band = Literal["std"] | None
F64 = npt.NDArray[np.float64]
RGBA = tuple[float, float, float, float]

#: ``bins=None`` on a numeric hue: more distinct values than this → quantile bins.
AUTO_BIN_THRESHOLD = 8
#: ``bins=None`` on a numeric hue with many distinct values: this many quantile groups.
AUTO_BINS = 5
#: Positive numeric axes spanning at least this ratio are drawn on a log scale.
LOG_RATIO = 100.0
_MISSING = "(none)"
_GREY = (0.6, 0.6, 0.6, 1.0)


# ----------------------------------------------------------------------------- helpers
def _import_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigurationError("plotting needs matplotlib: pip install 'wandb-frames[plot]'") from exc
    return matplotlib


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (8.0, 5.0)) -> tuple[Figure, Axes]:
    """The figure and axes to draw on (see the module docstring for which figure)."""
    _import_matplotlib()
    from matplotlib.figure import Figure

    if ax is not None:
        root = ax.figure
        while not isinstance(root, Figure):  # a SubFigure: draw on, return the root figure
            root = root.figure
        return root, ax
    jupyter = _in_jupyter()
    if jupyter or "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, layout="constrained")
        if jupyter:  # displayed once, as the returned value, not again by the inline backend
            plt.close(fig)
    else:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _in_jupyter() -> bool:
    """Whether this runs inside a Jupyter kernel (an IPython shell with a kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _as_frame(data: Any, what: str) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame, a ``pyarrow.Table`` or a collection with ``to_pandas``."""
    if isinstance(data, pd.DataFrame):
        return data
    to_pandas = getattr(data, "to_pandas", None)
    if callable(to_pandas):
        frame = to_pandas()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise ConfigurationError(
        f"{what} must be a pandas DataFrame, a pyarrow Table or have .to_pandas(); got {type(data).__name__}"
    )


def _column(frame: pd.DataFrame, name: str, prefixes: Sequence[str] = ()) -> str:
    """``name`` if it is a column, else the one ``<prefix><name>`` that is; else ConfigurationError."""
    if name in frame.columns:
        return name
    found = [p + name for p in prefixes if p + name in frame.columns]
    if len(found) == 1:
        return found[0]
    if found:
        raise ConfigurationError(f"column {name!r} is ambiguous: use one of {found}")
    near = [c for c in frame.columns if isinstance(c, str) and name.split(".")[-1] in c][:8]
    hint = f"; similar: {near}" if near else ""
    raise ConfigurationError(f"no column {name!r} in the frame{hint}")


def _is_numeric(series: pd.Series[Any]) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(series.dtype)


def _floats(series: pd.Series[Any]) -> F64:
    """Values as float64 with null → NaN and ±inf → NaN (nothing non-finite is drawn)."""
    values = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _colours(n: int, numeric: bool) -> list[RGBA]:
    """``n`` colours: a sequential map for ordered (numeric) groups, a qualitative one otherwise."""
    matplotlib = _import_matplotlib()
    if numeric:
        cmap = matplotlib.colormaps["viridis"]
        return [tuple(cmap(0.5 if n == 1 else 0.9 * i / (n - 1))) for i in range(n)]
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [tuple(cmap(i % cmap.N)) for i in range(n)]


# ------------------------------------------------------------------- grouping runs by hue
def _groups(
    frame: pd.DataFrame, hue: str | None, bins: int | None
) -> tuple[npt.NDArray[np.int64], list[str], list[RGBA]]:
    """Group code per row, group labels (in legend order) and their colours.

    Numeric hue: one group per distinct value, or quantile bins of the runs' values
    (``bins``, or automatically above :data:`AUTO_BIN_THRESHOLD` distinct values). Other
    hues: one group per distinct value, sorted. Rows with no hue value form a grey group.
    """
    if hue is None:
        return np.zeros(len(frame), dtype=np.int64), ["all runs"], _colours(1, numeric=True)
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int) or bins < 1):
        raise ConfigurationError(f"bins must be a positive integer or None, got {bins!r}")
    series = frame[hue]
    if _is_numeric(series):
        values = _floats(series)
        per_run = pd.Series(values).groupby(frame["run_id"].to_numpy()).first().dropna()
        distinct = np.unique(per_run.to_numpy())
        if bins is None and len(distinct) > AUTO_BIN_THRESHOLD:
            bins = AUTO_BINS
        if bins is None or len(distinct) <= 1:
            labels = [_fmt(v) for v in distinct]
            codes = np.searchsorted(distinct, values)
        else:
            edges = np.unique(np.quantile(per_run.to_numpy(), np.linspace(0.0, 1.0, bins + 1)))
            labels = [f"{_fmt(lo)}–{_fmt(hi)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
            codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(labels) - 1)
        colours = _colours(len(labels), numeric=True)
        missing = np.isnan(values)
    else:
        if bins is not None:
            raise ConfigurationError(f"bins needs a numeric hue; {hue!r} is {series.dtype}")
        texts = series.astype("string")
        missing = texts.isna().to_numpy()
        names = sorted({str(v) for v in texts[~missing]})
        lookup = {name: i for i, name in enumerate(names)}
        codes = np.array([lookup.get(str(v), 0) for v in texts.fillna(_MISSING)], dtype=np.int64)
        labels, colours = names, _colours(len(names), numeric=False)
    codes = np.asarray(codes, dtype=np.int64)
    if missing.any():
        codes[missing] = len(labels)
        labels, colours = [*labels, _MISSING], [*colours, _GREY]
    return codes, labels, colours


# --------------------------------------------------------------------------- plot_curves
def plot_curves(
    histories_long: Any,
    metric: str = "loss",
    *,
    x: str = "_step",
    hue: str | None = None,
    bins: int | None = None,
    band: Band = "std",
    ax: Axes | None = None,
) -> Figure:
    """Plot one metric's curves from a long history frame, coloured by a run column.

    Example::

        h = runs.history_frames(keys=["loss"], with_config=["optimizer.lr"])
        fig = plot_curves(h.to_pandas(), "loss", hue="config.optimizer.lr", bins=4)
        fig.savefig("loss.png")

    Args:
        histories_long: The long frame of ``runs.history_frames()`` (``run_id, _step, metric,
            value, …``): a DataFrame, a ``pyarrow.Table`` or the ``Histories`` object.
        metric: The metric to draw (a value of the ``metric`` column).
        x: The x column: ``_step`` (default), ``_runtime`` or ``_timestamp``.
        hue: A column to colour by, e.g. ``config.optimizer.lr`` or ``group`` (attached with
            ``with_config=`` / ``with_columns=``); None draws every run in one colour.
        bins: For a numeric hue, this many quantile groups of the runs' values. None: one group
            per distinct value, or 5 quantile groups when there are more than 8 values.
        band: ``"std"``: per group, the mean over runs at each x with a ±1 standard deviation
            band (runs are aligned on equal x values, so use ``_step``; a single run has no
            band). None: one thin line per run, coloured by its group.
        ax: Axes to draw on; default a new figure.

    Returns:
        The figure drawn on. Non-finite values (NaN, ±inf) are left out of lines and means.

    Raises:
        ConfigurationError: A missing column, an unknown metric, a bad ``band`` or ``bins``.
    """
    if band not in ("std", None):
        raise ConfigurationError(f"band must be 'std' or None, got {band!r}")
    frame = _as_frame(histories_long, "histories_long")
    for name in ("run_id", "metric", "value"):
        if name not in frame.columns:
            raise ConfigurationError(f"histories_long has no {name!r} column: pass runs.history_frames(...).to_pandas()")
    x = _column(frame, x)
    if hue is not None:
        hue = _column(frame, hue, ("config.",))
    names = frame["metric"].astype("string")
    rows = frame.loc[(names == metric).fillna(False).to_numpy()]
    if rows.empty:
        known = sorted({str(v) for v in names.dropna().unique()})
        raise ConfigurationError(f"no points of metric {metric!r}; the frame has {known}")
    codes, labels, colours = _groups(rows, hue, bins)
    xs, ys = _floats(rows[x]), _floats(rows["value"])
    run_ids = rows["run_id"].astype("string").to_numpy()
    fig, axes = _new_axes(ax)
    if band == "std":
        _draw_bands(axes, codes, xs, ys, labels, colours)
        axes.set_title(f"{metric}: mean ± std over runs")
    else:
        _draw_runs(axes, codes, xs, ys, run_ids, labels, colours)
        axes.set_title(f"{metric}: one line per run")
    axes.set_xlabel(x)
    axes.set_ylabel(metric)
    if hue is not None:  # legend entries in group order, whatever order the runs came in
        handles, shown = axes.get_legend_handles_labels()
        order = sorted(range(len(shown)), key=lambda i: labels.index(shown[i]))
        axes.legend([handles[i] for i in order], [shown[i] for i in order], title=hue, fontsize="small")
    return fig


def _draw_bands(axes: Axes, codes: npt.NDArray[np.int64], xs: F64, ys: F64,
                labels: list[str], colours: list[RGBA]) -> None:
    table = pd.DataFrame({"g": codes, "x": xs, "y": ys}).dropna(subset=["x"])
    stats = table.groupby(["g", "x"], sort=True)["y"].agg(["mean", "std"])
    for code, label in enumerate(labels):
        if code not in stats.index.get_level_values("g"):
            continue
        part = stats.xs(code, level="g")
        at = part.index.to_numpy(dtype="float64")
        mean = part["mean"].to_numpy(dtype="float64")
        std = part["std"].to_numpy(dtype="float64")
        axes.plot(at, mean, color=colours[code], label=label, linewidth=1.8)
        spread = ~np.isnan(std)
        if spread.any():
            axes.fill_between(at, mean - std, mean + std, where=spread, color=colours[code],
                              alpha=0.2, linewidth=0)


def _draw_runs(axes: Axes, codes: npt.NDArray[np.int64], xs: F64, ys: F64, run_ids: npt.NDArray[Any],
               labels: list[str], colours: list[RGBA]) -> None:
    table = pd.DataFrame({"run": run_ids, "g": codes, "x": xs, "y": ys}).dropna(subset=["x"])
    labelled: set[int] = set()
    for _, part in table.groupby(["run", "g"], sort=False):
        ordered = part.sort_values("x")
        group = int(ordered["g"].iloc[0])
        label = labels[group] if group not in labelled else f"_{labels[group]}"
        labelled.add(group)
        axes.plot(ordered["x"].to_numpy(), ordered["y"].to_numpy(), color=colours[group],
                  label=label, linewidth=0.8, alpha=0.7, gid=str(ordered["run"].iloc[0]))


# ------------------------------------------------------------------ parallel coordinates
def _axis_positions(series: pd.Series[Any]) -> tuple[F64, list[tuple[float, str]], bool]:
    """Values mapped to [0, 1], tick marks (position, text) and whether the axis is log."""
    if _is_numeric(series):
        values = _floats(series)
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        log = lo > 0 and hi / lo >= LOG_RATIO
        scaled = np.log10(values) if log else values
        slo, shi = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        if shi == slo:
            return np.full(len(values), 0.5), [(0.5, _fmt(lo))], log
        positions = (scaled - slo) / (shi - slo)
        ticks = [(0.0, _fmt(lo)), (1.0, _fmt(hi))]
        mid = 10 ** ((slo + shi) / 2) if log else (lo + hi) / 2
        ticks.insert(1, (0.5, _fmt(mid)))
        return positions, ticks, log
    texts = _texts(series)
    names = sorted({str(v) for v in texts if v is not None})
    step = 1.0 / (len(names) - 1) if len(names) > 1 else 0.0
    where = {name: (i * step if len(names) > 1 else 0.5) for i, name in enumerate(names)}
    positions = np.array([np.nan if v is None else where[str(v)] for v in texts], dtype="float64")
    return positions, [(where[n], n) for n in names], False


def parallel_coordinates(
    frame: Any,
    params: list[str],
    metric: str,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Draw each run as a line across one vertical axis per parameter, coloured by a metric.

    Example::

        sweep = api.sweep("acme/mnist/abc123").to_pandas()
        parallel_coordinates(sweep, ["optimizer.lr", "data.batch_size"], "eval/loss")

    Each axis is normalised to [0, 1] and labelled with its minimum, middle and maximum;
    a positive numeric axis spanning 100× or more (a learning rate) is on a log scale;
    strings and booleans are evenly spaced categories. The metric is the last axis and the
    colour (viridis, with a colour bar). Runs missing any of the values are left out.

    Args:
        frame: A runs or sweep frame (``sweep.to_pandas()``, ``runs.to_pandas()``).
        params: Columns; ``optimizer.lr`` finds ``config.optimizer.lr``.
        metric: A column; ``eval/loss`` finds ``summary.eval/loss``.
        ax: Axes to draw on; default a new figure.

    Returns:
        The figure drawn on.

    Raises:
        ConfigurationError: No params, a missing column, or no run with every value.
    """
    if isinstance(params, str) or not params:
        raise ConfigurationError("params must be a non-empty list of column names")
    data = _as_frame(frame, "frame")
    columns = [_column(data, p, ("config.",)) for p in params]
    target = _column(data, metric, ("summary.",))
    keep = np.ones(len(data), dtype=bool)
    for name in [*columns, target]:
        keep &= _values(data[name])[1]
    if not keep.any():
        raise ConfigurationError(f"no run has every value of {[*columns, target]}")
    kept = data.loc[keep]
    positions, ticks, logs = [], [], []
    for name in [*columns, target]:
        pos, tick, log = _axis_positions(kept[name])
        positions.append(pos)
        ticks.append(tick)
        logs.append(log)
    grid = np.column_stack(positions)
    colour_values = _floats(kept[target]) if _is_numeric(kept[target]) else grid[:, -1]

    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    fig, axes = _new_axes(ax, figsize=(max(6.0, 1.8 * len(columns) + 3.0), 5.0))
    xs = np.arange(grid.shape[1], dtype="float64")
    segments = [np.column_stack([xs, row]) for row in grid]
    norm = Normalize(vmin=float(colour_values.min()), vmax=float(colour_values.max()))
    lines = LineCollection(segments, cmap="viridis", norm=norm, linewidths=1.0, alpha=0.8)
    lines.set_array(colour_values)
    axes.add_collection(lines)
    for i, axis_ticks in enumerate(ticks):
        axes.axvline(float(i), color="black", linewidth=0.8)
        for where, text in axis_ticks:
            axes.annotate(text, (float(i), where), xytext=(3, 0), textcoords="offset points",
                          fontsize="x-small", va="center")
    names = [f"{c} (log)" if log else c for c, log in zip([*columns, target], logs, strict=True)]
    axes.set_xticks(xs, names, rotation=20, ha="right")
    axes.set_xlim(-0.1, grid.shape[1] - 0.6)
    axes.set_ylim(-0.05, 1.05)
    axes.set_yticks([])
    axes.set_title(f"{len(grid)} runs coloured by {target}")
    fig.colorbar(lines, ax=axes, label=target)
    return fig


# ----------------------------------------------------------------------- summary scatter
def summary_scatter(
    frame: Any,
    x: str,
    y: str,
    *,
    hue: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Scatter two runs-frame columns, one point per run, optionally coloured by a third.

    Example::

        summary_scatter(runs.to_pandas(), "config.optimizer.lr", "summary.eval/loss",
                        hue="config.optimizer.name")

    A numeric ``hue`` colours points on a continuous scale (viridis, with a colour bar);
    any other ``hue`` gives one legend entry per value. Runs missing ``x`` or ``y`` are left
    out; a positive numeric axis spanning 100× or more is drawn on a log scale.

    Args:
        frame: A runs frame (``runs.to_pandas()``, a ``pyarrow.Table`` or ``Runs``).
        x: Column for the x axis (``optimizer.lr`` finds ``config.optimizer.lr``, ``loss``
            finds ``summary.loss``).
        y: Column for the y axis (same lookup).
        hue: Column to colour by; None for one colour.
        ax: Axes to draw on; default a new figure.

    Returns:
        The figure drawn on.

    Raises:
        ConfigurationError: A missing or ambiguous column, or no run with both values.
    """
    data = _as_frame(frame, "frame")
    prefixes = ("config.", "summary.")
    x, y = _column(data, x, prefixes), _column(data, y, prefixes)
    hue = _column(data, hue, prefixes) if hue is not None else None
    (xs, x_ok), (ys, y_ok) = _values(data[x]), _values(data[y])
    keep = x_ok & y_ok
    if not keep.any():
        raise ConfigurationError(f"no run has both {x!r} and {y!r}")
    px, py = xs[keep], ys[keep]
    fig, axes = _new_axes(ax)
    if hue is not None and _is_numeric(data[hue]):
        shade = _floats(data[hue])[keep]
        points = axes.scatter(px, py, c=shade, cmap="viridis", s=18, plotnonfinite=True)
        fig.colorbar(points, ax=axes, label=hue)
    elif hue is not None:
        texts = data[hue].astype("string").fillna(_MISSING).to_numpy(dtype=object)[keep]
        names = sorted(set(texts) - {_MISSING}) + ([_MISSING] if _MISSING in set(texts) else [])
        colours = _colours(len(names), numeric=False)
        for i, name in enumerate(names):
            mask = texts == name
            colour = _GREY if name == _MISSING else colours[i]
            axes.scatter(px[mask], py[mask], color=colour, label=name, s=18)
        axes.legend(title=hue, fontsize="small")
    else:
        axes.scatter(px, py, s=18)
    for name, values, set_scale in ((x, px, axes.set_xscale), (y, py, axes.set_yscale)):
        if _is_numeric(data[name]) and values.min() > 0 and values.max() / values.min() >= LOG_RATIO:
            set_scale("log")
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    return fig


def _values(series: pd.Series[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """Plottable values (finite floats, or strings for other columns) and which are present."""
    if _is_numeric(series):
        values = _floats(series)
        return values, ~np.isnan(values)
    texts = _texts(series)
    return texts, np.array([v is not None for v in texts], dtype=bool)


def _texts(series: pd.Series[Any]) -> npt.NDArray[Any]:
    """Values as text (object array), None where missing."""
    return np.array([None if pd.isna(v) else str(v) for v in series.astype("string")], dtype=object)
