"""``json_text``: orjson where its text is the standard encoder's, the encoder everywhere else.

The property: for any JSON-like value, ``json_text`` returns exactly the text of the compact
standard-library encoder it is documented to match (NaN/Infinity spelled as W&B does), so
which of the two wrote a cell never shows.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from wandb_frames.tabular.decode import json_text

ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _any_float() -> st.SearchStrategy[float]:
    """Floats of every magnitude, and the ones where orjson's spelling differs from repr."""
    bits = st.integers(0, 2**64 - 1).map(lambda n: struct.unpack("<d", struct.pack("<Q", n))[0])
    powers = st.builds(lambda m, e: m * 10.0**e, st.sampled_from([1.0, -1.0, 1.5, 9.999]), st.integers(-12, 20))
    return st.one_of(st.floats(), bits, powers, st.sampled_from([1e-5, 1e-4, 1e16, 1e15, 0.0, -0.0, 1e-9, math.nan, math.inf, -math.inf]))


KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["_type", "values", "bins", "null", "1e5", ":0.00001"]))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), _any_float(),
    st.text(max_size=12), st.sampled_from(["null", ",1e9", "[0.00001", "\u2028", "\x7f", "\ud800"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(KEYS, children, max_size=6),
        st.dictionaries(st.integers(-3, 3), children, max_size=3),  # non-str keys
        st.tuples(children, children),
    ),
    max_leaves=25,
)


def _expected(value: Any) -> str:
    try:
        return ENCODER.encode(value)
    except UnicodeEncodeError:  # pragma: no cover - the encoder itself never raises on surrogates
        raise


@given(VALUES)
@example({"_type": "histogram", "values": [1, 2], "bins": [1e-05, 0.5, 1e16, float("nan")]})
@example({"_type": "histogram", "values": [1, 2], "bins": [-0.25, 0.5, 1.0]})
@example({"a": None, "b": 0.5})
@example({"loss": math.nan, "acc": 0.5})
@example([math.inf, -math.inf])
@example([0.00001, 1.0])
@example({"big": 2**64, "x": 0.5})
def test_json_text_is_the_encoders_text(value: Any) -> None:
    assert json_text(value) == _expected(value)


@given(st.lists(_any_float(), max_size=8), st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8))
def test_histogram_dicts_match_the_encoder(bins: list[float], values: list[int]) -> None:
    histogram = {"_type": "histogram", "values": values, "bins": bins}
    text = json_text(histogram)
    assert text == _expected(histogram)
    decoded = json.loads(text)
    assert decoded["values"] == values
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(decoded["bins"], bins, strict=True))
