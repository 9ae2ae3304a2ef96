"""`json_safe`: every raw value becomes JSON without losing what it was."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from stocker.store.quarantine import json_safe


def test_json_safe_renders_non_json_values_as_strings() -> None:
    token = uuid.UUID("12345678-1234-5678-1234-567812345678")
    raw = {
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "minus_inf": -float("inf"),
        "decimal": Decimal("101.10"),
        "date": dt.date(2024, 1, 2),
        "stamp": pd.Timestamp("2024-01-02 09:30", tz="UTC"),
        "nat": pd.NaT,
        "na": pd.NA,
        "none": None,
        "numpy_int": np.int64(7),
        "numpy_bool": np.bool_(True),
        "bytes": b"\xff\x00ok",
        "uuid": token,
        "nested": {"values": [1, np.float32(0.5), (Decimal("1E+2"),)]},
        "nul": "a\x00b",
    }

    safe = json_safe(raw)

    assert safe == {
        "nan": "NaN",
        "inf": "Infinity",
        "minus_inf": "-Infinity",
        "decimal": "101.10",
        "date": "2024-01-02",
        "stamp": "2024-01-02T09:30:00+00:00",
        "nat": "NaT",
        "na": None,
        "none": None,
        "numpy_int": 7,
        "numpy_bool": True,
        "bytes": "\\xff\x00ok",
        "uuid": str(token),
        "nested": {"values": [1, 0.5, ["1E+2"]]},
        "nul": "a\\u0000b",
    }
    json.dumps(safe, allow_nan=False)


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text())
def test_json_safe_keeps_json_scalars_unchanged(value: object) -> None:
    if isinstance(value, str):
        value = value.replace("\x00", "")
    assert json.loads(json.dumps(json_safe(value))) == value
