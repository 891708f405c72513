"""Progress bars: widget bars in a notebook when ipywidgets is there, text bars otherwise, never a TqdmWarning."""

from __future__ import annotations

import sys
import warnings

import pytest
import tqdm
import tqdm.notebook

from wandb_frames import progress


def test_a_notebook_without_ipywidgets_gets_a_text_bar_and_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # an import of it now fails
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = progress.make_progress(3, desc="runs", progress=True)
    assert type(bar) is tqdm.tqdm
    bar.close()


def test_a_notebook_with_ipywidgets_gets_a_widget_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipywidgets  # noqa: F401 - the notebook extra is part of the test extra
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert progress._has_widgets()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = progress.make_progress(3, desc="runs", progress=True)
    assert isinstance(bar, tqdm.notebook.tqdm)
    bar.close()


def test_outside_a_notebook_a_text_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: False)
    bar = progress.make_progress(3, desc="runs", progress=True)
    assert type(bar) is tqdm.tqdm
    bar.close()
    assert isinstance(progress.make_progress(3, desc="runs", progress=False), progress._NoProgress)
