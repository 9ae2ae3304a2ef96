"""The demo's pipeline replay on a short range of the loaded sample: a final state, an
explained order, the flat-bars note, and a second run that changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from stocker.bootstrap import App
from stocker.core.errors import DataError
from stocker.data.sample import load_sample
from stocker.trading.demo_pipeline import PORTFOLIO_ID, replay_last_year

pytestmark = pytest.mark.slow


def test_replay_of_the_sample_ends_with_a_state_and_an_explained_order(app: App) -> None:
    with pytest.raises(DataError, match="load-sample"):
        replay_last_year(app)
    load_sample(app.uow())
    start, end = dt.date(2022, 12, 20), dt.date(2022, 12, 28)

    demo = replay_last_year(app, start=start, end=end)

    assert demo.portfolio_id == PORTFOLIO_ID
    assert (demo.first, demo.last, demo.sessions) == (start, end, 6)  # 26 December: no session
    assert demo.orders > 0 and demo.fills >= demo.orders - 1
    assert demo.state is not None and demo.state.date == end
    assert demo.state.nav > 0 and demo.holdings
    assert demo.order_id is not None and demo.explanation[0].startswith(f"order {demo.order_id}")
    text = "\n".join(demo.explanation)
    assert "target #" in text and "signal #" in text and "why this size" in text
    assert "flat" in demo.note and "open" in demo.note

    again = replay_last_year(app, start=start, end=end)
    assert (again.orders, again.fills, again.state) == (demo.orders, demo.fills, demo.state)
