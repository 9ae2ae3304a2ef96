"""The bus messages read and write exactly the JSON of the Stocker spec, section 3."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocker.core.errors import ValidationError
from stocker.core.messages import (
    MESSAGE_TYPES,
    STREAMS,
    MarketBar,
    OrderFilled,
    ProfitAndLoss,
    StateUpdate,
    model_for,
    parse,
    stream_of,
)

# Copied verbatim from the spec, section 3 ("Redis Stream Schemas").
SPEC_EXAMPLES = {
    "market-bars": """
{
  "event_type": "market_bar",
  "symbol": "SPY",
  "date": "2023-10-27",
  "open": "415.20",
  "high": "418.90",
  "low": "414.05",
  "close": "417.55",
  "adj_close": "417.55",
  "volume": 75000000,
  "provider": "alpaca"
}
""",
    "signals": """
{
  "event_type": "signal_generated",
  "strategy": "trend_v1",
  "symbol": "SPY",
  "date": "2023-10-27",
  "metrics": {
    "lookback_return": 0.054,
    "ewma_vol": 0.145,
    "direction": 1
  },
  "raw_weight": 0.25
}
""",
    "targets": """
{
  "event_type": "portfolio_targets",
  "portfolio_id": "main",
  "date": "2023-10-27",
  "targets": [
    {
      "symbol": "SPY",
      "target_exposure": 0.35,
      "reason": "Capped at 35%"
    },
    {
      "symbol": "GLD",
      "target_exposure": 0.15,
      "reason": null
    }
  ],
  "meta": {
    "scaling_factor": 1.0,
    "drawdown": 0.02
  }
}
""",
    "orders": """
{
  "event_type": "order_created",
  "order_uuid": "550e8400-e29b-41d4-a716-446655440000",
  "portfolio_id": "main",
  "symbol": "SPY",
  "side": "BUY",
  "qty": 15,
  "order_type": "MOO",
  "target_date": "2023-10-28"
}
""",
    "fills": """
{
  "event_type": "order_filled",
  "order_uuid": "550e8400-e29b-41d4-a716-446655440000",
  "broker_id": "alpaca_12345",
  "symbol": "SPY",
  "qty": 15,
  "price": 418.05,
  "commission": 0.00,
  "timestamp": "2023-10-28T09:30:01Z"
}
""",
    "portfolio-state": """
{
  "event_type": "state_update",
  "portfolio_id": "main",
  "date": "2023-10-28",
  "nav": 10500.50,
  "cash": 450.20,
  "pnl": {
    "realized": 120.50,
    "unrealized": 30.00,
    "day_total": 150.50
  }
}
""",
}


def _example(stream: str, **changes: object) -> str:
    document = json.loads(SPEC_EXAMPLES[stream])
    document.update(changes)
    return json.dumps(document)


def _rejection(stream: str, raw: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse(stream, raw)
    return caught.value


@pytest.mark.parametrize("stream", sorted(SPEC_EXAMPLES))
def test_parse_when_given_spec_example_reserializes_to_equal_json(stream: str) -> None:
    message = parse(stream, SPEC_EXAMPLES[stream])

    assert type(message) is STREAMS[stream]
    assert json.loads(message.to_json()) == json.loads(SPEC_EXAMPLES[stream])
    assert list(json.loads(message.to_json())) == list(json.loads(SPEC_EXAMPLES[stream]))


def test_registry_when_listing_streams_maps_each_spec_stream_to_one_model() -> None:
    assert set(STREAMS) == set(SPEC_EXAMPLES)
    assert {model_for(stream) for stream in STREAMS} == set(MESSAGE_TYPES)
    for stream in SPEC_EXAMPLES:
        assert stream_of(parse(stream, SPEC_EXAMPLES[stream])) == stream


def test_market_bar_when_parsed_keeps_price_text_digits_and_decimal_values() -> None:
    bar = parse("market-bars", SPEC_EXAMPLES["market-bars"])

    assert isinstance(bar, MarketBar)
    assert bar.open == Decimal("415.20") and str(bar.open) == "415.20"
    assert bar.date == dt.date(2023, 10, 27)
    assert '"open":"415.20"' in bar.to_json()
    assert '"volume":75000000' in bar.to_json()


def test_fill_when_parsed_keeps_numbers_exact_and_writes_them_as_numbers() -> None:
    fill = parse("fills", SPEC_EXAMPLES["fills"])

    assert isinstance(fill, OrderFilled)
    assert fill.price == Decimal("418.05") and isinstance(fill.price, Decimal)
    assert fill.commission.as_tuple() == Decimal("0.00").as_tuple()
    assert fill.order_uuid == uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
    assert fill.timestamp == dt.datetime(2023, 10, 28, 9, 30, 1, tzinfo=dt.UTC)
    assert '"price":418.05,"commission":0.00' in fill.to_json()


def test_message_when_assigned_raises_because_models_are_frozen() -> None:
    bar = parse("market-bars", SPEC_EXAMPLES["market-bars"])

    with pytest.raises(Exception, match="frozen"):
        bar.symbol = "QQQ"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("stream", "raw", "field"),
    [
        ("market-bars", _example("market-bars", exchange="ARCA"), "exchange"),
        (
            "signals",
            _example(
                "signals",
                metrics={"lookback_return": 0.1, "ewma_vol": 0.2, "direction": 1, "zscore": 3},
            ),
            "metrics.zscore",
        ),
        (
            "targets",
            _example(
                "targets",
                targets=[{"symbol": "SPY", "target_exposure": 0.3, "reason": None, "capped": True}],
            ),
            "targets.0.capped",
        ),
        ("fills", _example("fills", side="BUY"), "side"),
    ],
)
def test_parse_when_field_is_unknown_rejects_naming_the_field(
    stream: str, raw: str, field: str
) -> None:
    error = _rejection(stream, raw)

    assert any(reason.startswith(f"{field}:") for reason in error.reasons), error.reasons
    assert field.split(".")[-1] in str(error)


@pytest.mark.parametrize(
    ("stream", "changes", "field"),
    [
        ("market-bars", {"open": 415.2}, "open"),  # the spec sends bar prices as strings
        ("market-bars", {"close": "4l7.55"}, "close"),
        ("market-bars", {"volume": "75000000"}, "volume"),
        ("market-bars", {"volume": 1.5}, "volume"),
        ("market-bars", {"date": "27/10/2023"}, "date"),
        ("market-bars", {"symbol": 42}, "symbol"),
        (
            "signals",
            {"metrics": {"lookback_return": "0.05", "ewma_vol": 0.1, "direction": 1}},
            "metrics.lookback_return",
        ),
        (
            "signals",
            {"metrics": {"lookback_return": 0.05, "ewma_vol": 0.1, "direction": 2}},
            "metrics.direction",
        ),
        ("signals", {"raw_weight": True}, "raw_weight"),
        ("orders", {"side": "HOLD"}, "side"),
        ("orders", {"order_uuid": "not-a-uuid"}, "order_uuid"),
        ("orders", {"qty": "15"}, "qty"),
        ("fills", {"price": "418.05"}, "price"),
        ("fills", {"timestamp": "2023-10-28T09:30:01"}, "timestamp"),  # no time zone
        ("portfolio-state", {"pnl": {"realized": 1, "unrealized": 2}}, "pnl.day_total"),
        ("portfolio-state", {"event_type": "market_bar"}, "event_type"),
    ],
)
def test_parse_when_field_has_wrong_type_rejects_naming_the_field(
    stream: str, changes: dict[str, object], field: str
) -> None:
    error = _rejection(stream, _example(stream, **changes))

    assert any(reason.startswith(f"{field}:") for reason in error.reasons), error.reasons


@pytest.mark.parametrize(
    "raw",
    ["{not json", "[1, 2]", '{"event_type": "market_bar", "price": NaN}', '{"a": 1, "a": 2}'],
)
def test_parse_when_document_is_not_a_json_object_rejects_it(raw: str) -> None:
    error = _rejection("market-bars", raw)

    assert error.reasons


def test_parse_when_event_type_is_missing_rejects_it() -> None:
    document = json.loads(SPEC_EXAMPLES["orders"])
    del document["event_type"]

    error = _rejection("orders", json.dumps(document))

    assert error.reasons == ["event_type: field required"]


def test_model_for_when_stream_is_unknown_names_the_known_streams() -> None:
    with pytest.raises(ValidationError, match="market-bars"):
        model_for("quotes")


def test_construction_when_given_float_money_refuses_to_round_it() -> None:
    with pytest.raises(Exception, match="price"):
        OrderFilled(
            order_uuid=uuid.uuid4(),
            broker_id="b",
            symbol="SPY",
            qty=Decimal(1),
            price=418.05,  # type: ignore[arg-type]
            commission=Decimal(0),
            timestamp=dt.datetime(2023, 10, 28, tzinfo=dt.UTC),
        )


MONEY = st.decimals(
    min_value=Decimal("-99999999999999.9999"),
    max_value=Decimal("99999999999999.9999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
POSITIVE_MONEY = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("99999999.9999"), places=4
)


@given(qty=POSITIVE_MONEY, price=POSITIVE_MONEY, commission=POSITIVE_MONEY)
def test_fill_round_trip_when_money_has_many_digits_returns_the_same_decimals(
    qty: Decimal, price: Decimal, commission: Decimal
) -> None:
    fill = OrderFilled(
        order_uuid=uuid.uuid4(),
        broker_id="alpaca_1",
        symbol="SPY",
        qty=qty,
        price=price,
        commission=commission,
        timestamp=dt.datetime(2023, 10, 28, 9, 30, 1, tzinfo=dt.UTC),
    )

    again = parse("fills", fill.to_json())

    assert again == fill
    assert again.price.as_tuple() == price.as_tuple()  # type: ignore[attr-defined]
    assert isinstance(json.loads(fill.to_json())["price"], float)  # a JSON number, not a string


@given(nav=MONEY, cash=MONEY, realized=MONEY, unrealized=MONEY)
def test_state_update_round_trip_when_values_exceed_float_precision_stays_exact(
    nav: Decimal, cash: Decimal, realized: Decimal, unrealized: Decimal
) -> None:
    state = StateUpdate(
        portfolio_id="main",
        date=dt.date(2023, 10, 28),
        nav=nav,
        cash=cash,
        pnl=ProfitAndLoss(
            realized=realized, unrealized=unrealized, day_total=realized + unrealized
        ),
    )

    again = parse("portfolio-state", state.to_json())

    assert again == state
    assert again.nav.as_tuple() == nav.as_tuple()  # type: ignore[attr-defined]


@given(price=MONEY.filter(lambda value: value > 0))
def test_market_bar_round_trip_when_prices_are_strings_keeps_their_digits(price: Decimal) -> None:
    bar = MarketBar(
        symbol="SPY",
        date=dt.date(2023, 10, 27),
        open=price,
        high=price,
        low=price,
        close=price,
        adj_close=price,
        volume=1,
        provider="file",
    )

    again = parse("market-bars", bar.to_json())

    assert again == bar
    assert json.loads(bar.to_json())["close"] == str(price)
