"""The public surface: explicit, sorted, documented, one error tree, no secrets in reprs."""

from __future__ import annotations

import inspect

import pytest

import wandb_frames as wf
from wandb_frames import errors


def test_all_is_sorted_and_complete() -> None:
    names = [n for n in wf.__all__ if n != "__version__"]
    assert names == sorted(names)
    public = {
        n for n in vars(wf)
        if not n.startswith("_") and not inspect.ismodule(getattr(wf, n)) and n != "annotations"
    }
    assert public <= set(wf.__all__), public - set(wf.__all__)
    for name in wf.__all__:
        assert hasattr(wf, name), name


@pytest.mark.parametrize("name", [n for n in wf.__all__ if n != "__version__"])
def test_every_public_name_is_documented(name: str) -> None:
    obj = getattr(wf, name)
    assert inspect.getdoc(obj), f"{name} has no docstring"


def test_every_error_is_in_one_tree() -> None:
    classes = [c for c in vars(errors).values() if inspect.isclass(c) and c.__module__ == errors.__name__]
    exceptions = [c for c in classes if issubclass(c, BaseException) and not issubclass(c, Warning)]
    warnings_ = [c for c in classes if issubclass(c, Warning)]
    assert exceptions and warnings_
    assert all(issubclass(c, errors.WandbFramesError) for c in exceptions)
    assert all(issubclass(c, errors.WandbFramesWarning) for c in warnings_)
    assert sorted(errors.__all__) == errors.__all__
    assert {c.__name__ for c in classes} == set(errors.__all__)


def test_value_errors_are_value_errors() -> None:
    # bad arguments and bad filters can be caught as ValueError, as wandb users do today
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.FilterError, ValueError)


def test_api_key_never_in_repr_or_settings_repr() -> None:
    key = "local-" + "s3cr3t" * 7
    api = wf.Api(api_key=key, overrides={"base_url": "http://127.0.0.1:9"})
    assert api.api_key == key
    for text in (repr(api), str(api), repr(api.settings), repr(api.transport)):
        assert key not in text
