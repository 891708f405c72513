"""Real data for the plot tests: a synthetic project served by LocalServer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

import wandb_frames as wf
from wandb_frames.errors import LossyConversionWarning
from wandb_frames.testing import LocalServer, synthetic_project, synthetic_sweeps

ENTITY, PROJECT = "plots", "study"


@dataclass(frozen=True)
class PlotData:
    runs: pd.DataFrame  # the runs frame of every run
    long: pd.DataFrame  # loss + eval/loss, with config.optimizer.lr, config.optimizer.name, group
    sweep: pd.DataFrame  # sw-bayes-opt: optimizer.lr, optimizer.weight_decay, model.dropout, eval/loss
    grid_long: pd.DataFrame  # loss of the sw-lr-grid runs (a few learning rates)


def fetch_plot_data() -> PlotData:
    """Serve 48 synthetic runs (60 steps) and fetch the frames the tests draw."""
    records = synthetic_project(48, seed=3, history_steps=60)
    with LocalServer(entity=ENTITY) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)  # config.warmup_steps mixes kinds
        server.add_runs(ENTITY, PROJECT, records)
        server.add_sweeps(ENTITY, PROJECT, synthetic_sweeps(records))
        api = wf.Api(api_key=server.api_key, overrides={"base_url": server.url})
        runs = api.runs(f"{ENTITY}/{PROJECT}", progress=False)
        long = runs.history_frames(keys=["loss", "eval/loss"], with_config=["optimizer.lr", "optimizer.name"],
                              with_columns=["group"]).to_pandas()
        grid = api.runs(f"{ENTITY}/{PROJECT}", filters={"sweep": "sw-lr-grid"}, progress=False)
        grid_long = grid.history_frames(keys=["loss"], with_config=["optimizer.lr"]).to_pandas()
        sweep = api.sweep(f"{ENTITY}/{PROJECT}/sw-bayes-opt").to_pandas()
        return PlotData(runs.to_pandas(), long, sweep, grid_long)
