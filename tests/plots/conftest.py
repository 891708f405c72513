"""Fixtures for the plot tests: real frames fetched once from LocalServer."""

from __future__ import annotations

import pytest
from plots_support import PlotData, fetch_plot_data


@pytest.fixture(scope="session")
def plot_data() -> PlotData:
    return fetch_plot_data()
