"""A Yahoo chart response as bars and corporate actions, with Yahoo's split adjustment undone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stocker.core.errors import SourceError
from stocker.sources.base import FetchRequest, RawReject, SourceBatch, payload_hash
from stocker.sources.http import decode_json
from stocker.sources.yahoo.common import SOURCE_NAME, VENDOR, exchange_name


class Chart:
    """What one chart response yields for one symbol."""

    def __init__(self) -> None:
        self.bars: list[dict[str, object]] = []
        self.actions: list[dict[str, object]] = []
        self.info: dict[str, object] = {}


def _within(day: date, request: FetchRequest) -> bool:
    return (request.start is None or day >= request.start) and (
        request.end is None or day <= request.end
    )


def _split_factor_after(day: date, splits: list[dict[str, object]]) -> float:
    """Product of the ratios of the splits that take effect after `day`."""
    factor = 1.0
    for split in splits:
        if split["date"] > day:  # type: ignore[operator]
            factor *= split["value"]  # type: ignore[operator]
    return factor


def parse_chart(symbol: str, body: bytes, request: FetchRequest, batch: SourceBatch) -> Chart:
    """Rows of one chart response, with Yahoo's split adjustment undone.

    Yahoo's chart open/high/low/close/volume and dividend amounts are adjusted for every
    later split (`adjclose` also for dividends). `prices_daily.close` is the raw close and
    `corporate_actions` the cash paid per share on the ex-date, so each value is multiplied
    (volume divided) by the product of the ratios of the splits after its date.
    """
    interval = request.interval
    what = f"{symbol} {interval} bars"
    payload = decode_json(vendor=VENDOR, body=body, what=what)
    source_hash = payload_hash(body)
    try:
        result = payload["chart"]["result"][0]
        meta = result["meta"]
    except (KeyError, IndexError, TypeError) as error:
        raise SourceError(
            f"{VENDOR} chart response for {what} lacks chart.result[0].meta ({error!r})"
        ) from error
    zone = _zone(meta, symbol)
    timestamps = result.get("timestamp") or []
    indicators = result.get("indicators") or {}
    quote = (indicators.get("quote") or [{}])[0]
    adjclose = ((indicators.get("adjclose") or [{}])[0]).get("adjclose")
    fields = ("open", "high", "low", "close", "volume")
    columns = {name: quote.get(name) for name in fields}
    for name, values in [*columns.items(), ("adjclose", adjclose)]:
        if timestamps and values is not None and len(values) != len(timestamps):
            raise SourceError(
                f"{VENDOR} sent a partial chart for {what}: {len(timestamps)} timestamps but "
                f"{len(values)} {name} values"
            )
        if timestamps and values is None and name != "adjclose":
            raise SourceError(f"{VENDOR} chart for {what} has no {name} series")
    table = "prices_daily" if interval == "1d" else "prices_intraday"
    chart = Chart()
    events = result.get("events") or {}
    splits = _splits(symbol, events, zone, source_hash, batch)
    seen: dict[object, int] = {}
    for index, epoch_s in enumerate(timestamps):
        values = {name: columns[name][index] for name in fields}
        moment = datetime.fromtimestamp(epoch_s, zone)
        if not _within(moment.date(), request):
            continue
        missing = [name for name, value in values.items() if value is None]
        if missing:
            batch.rejects.append(
                RawReject(
                    table=table,
                    raw_row={"symbol": symbol, "timestamp": epoch_s, **values},
                    reasons=(
                        f"{VENDOR} gave null {', '.join(missing)} for {symbol} at "
                        f"{moment.isoformat()}",
                    ),
                    row_number=index,
                )
            )
            continue
        factor = _split_factor_after(moment.date(), splits)
        row: dict[str, object] = {
            "symbol": symbol,
            **{name: values[name] * factor for name in ("open", "high", "low", "close")},
            "volume": round(values["volume"] / factor),
            "source": SOURCE_NAME,
            "source_hash": source_hash,
        }
        if table == "prices_daily":
            adjusted = adjclose[index] if adjclose is not None else None
            row["date"] = moment.date()
            row["adj_close"] = float("nan") if adjusted is None else adjusted
            key: object = row["date"]
        else:
            row["timestamp"] = moment.astimezone(UTC)
            row["interval"] = interval
            key = row["timestamp"]
        # Yahoo sometimes repeats the live bar; keep the last copy.
        if key in seen:
            chart.bars[seen[key]] = row
        else:
            seen[key] = len(chart.bars)
            chart.bars.append(row)
    for event in (events.get("dividends") or {}).values():
        ex_date = datetime.fromtimestamp(event["date"], zone).date()
        if not _within(ex_date, request):
            continue
        chart.actions.append(
            {
                "symbol": symbol,
                "date": ex_date,
                "action_type": "DIVIDEND",
                "value": event["amount"] * _split_factor_after(ex_date, splits),
                "source": SOURCE_NAME,
                "source_hash": source_hash,
            }
        )
    chart.actions.extend(
        split
        for split in splits
        if _within(split["date"], request)  # type: ignore[arg-type]
    )
    chart.info = {
        "symbol": symbol,
        "name": meta.get("longName") or meta.get("shortName"),
        "sector": None,
        "industry": None,
        "exchange": exchange_name(meta.get("exchangeName")),
        "currency": meta.get("currency"),
        "source": SOURCE_NAME,
        "source_hash": source_hash,
    }
    return chart


def _splits(
    symbol: str,
    events: Mapping[str, Any],
    zone: tzinfo,
    source_hash: str,
    batch: SourceBatch,
) -> list[dict[str, object]]:
    """Split rows (value = new shares per old share) from the chart's `events.splits`."""
    splits: list[dict[str, object]] = []
    for event in (events.get("splits") or {}).values():
        numerator, denominator = event.get("numerator"), event.get("denominator")
        if not numerator or not denominator:
            batch.rejects.append(
                RawReject(
                    table="corporate_actions",
                    raw_row={"symbol": symbol, **event},
                    reasons=(
                        f"{VENDOR} split for {symbol} lacks numerator/denominator "
                        f"(splitRatio {event.get('splitRatio')!r})",
                    ),
                )
            )
            continue
        splits.append(
            {
                "symbol": symbol,
                "date": datetime.fromtimestamp(event["date"], zone).date(),
                "action_type": "SPLIT",
                "value": float(numerator) / float(denominator),
                "source": SOURCE_NAME,
                "source_hash": source_hash,
            }
        )
    return splits


def _zone(meta: Mapping[str, Any], symbol: str) -> tzinfo:
    name = meta.get("exchangeTimezoneName")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset_s = meta.get("gmtoffset")
    if isinstance(offset_s, int):
        return timezone(timedelta(seconds=offset_s))
    raise SourceError(
        f"{VENDOR} chart meta for {symbol} names no usable exchangeTimezoneName or gmtoffset"
    )
