"""Research backtest runs and everything they produce (SigmaQLab 11.7).

The outputs of a run are new rows under a new run id, so they are written with a plain COPY
(no staging, no merge: nothing can conflict). Holdings are stored when they change (migration
0009): the run's symbols once (`backtest_symbols`, where the symbol foreign key is checked) and
one `backtest_holding_periods` row per stretch of unchanged shares, with the names' shares and
daily weights as arrays, written in PostgreSQL's binary COPY format straight from numpy; the
`backtest_holdings` view gives the SigmaQLab daily rows. Trades alike: one `backtest_trade_sets`
row per rebalance, the `backtest_trades` view.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, text

from stocker.store.bulk_copy import copy_arrow, driver_connection

OUTPUT_TABLES = (
    "backtest_symbols",
    "backtest_holding_periods",
    "backtest_timeseries",
    "backtest_factor_exposures",
    "backtest_sector_periods",
    "backtest_trade_sets",
)
FACTOR_COLUMNS = ("value", "quality", "momentum", "low_vol", "size")


@dataclass(frozen=True)
class StoredRun:
    """One backtest_runs row."""

    id: int
    portfolio_id: int
    portfolio: str | None
    start_date: dt.date
    end_date: dt.date
    rebalance_frequency: str
    transaction_cost: float
    initial_capital: float
    status: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    error: str | None
    config: dict[str, Any]


_RUN_COLUMNS = (
    "r.id, r.portfolio_id, p.code AS portfolio, r.start_date, r.end_date, r.rebalance_frequency, "
    "r.transaction_cost, r.initial_capital, r.status, r.created_at, r.finished_at, r.error, "
    "r.config FROM backtest_runs r LEFT JOIN portfolios p ON p.id = r.portfolio_id"
)


# PostgreSQL's binary COPY format: header, per row a field count and (length, bytes) per field,
# a -1 trailer; arrays as ndim, has-null flag, element type, (size, lower bound) per dimension,
# then (length, value) per element, all big-endian.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_FIELDS = struct.Struct(">h")
_LENGTH = struct.Struct(">i")
_PG_EPOCH = np.datetime64("2000-01-01", "D")
_DATE_OID, _INT4_OID, _FLOAT8_OID, _VARCHAR_OID = 1082, 23, 701, 1043


def _day_numbers(days: pd.DatetimeIndex) -> np.ndarray:
    """Days since PostgreSQL's epoch (2000-01-01), its binary DATE."""
    return (days.to_numpy().astype("datetime64[D]") - _PG_EPOCH).astype(np.int32)


def _scalar(value: object, dtype: str) -> bytes:
    return np.array([value], dtype=dtype).tobytes()


def _array(values: np.ndarray, oid: int, dtype: str) -> bytes:
    """A whole numeric array (1-D or 2-D, no NULLs) in the binary format, built by numpy."""
    return b"".join(_array_parts(values, oid, dtype))


def _array_parts(values: np.ndarray, oid: int, dtype: str) -> tuple[bytes, memoryview]:
    """`_array` as its header and a view of its elements (written to COPY without a join)."""
    values = np.asarray(values)
    size = np.dtype(dtype).itemsize
    elements = np.empty(values.size, dtype=[("length", ">i4"), ("value", dtype)])
    elements["length"] = size
    elements["value"] = values.ravel()
    header = struct.pack(">iii", values.ndim, 0, oid)
    for extent in values.shape:
        header += struct.pack(">ii", extent, 1)
    return header, elements.view(np.uint8).data


def _text_array(values: Sequence[str]) -> bytes:
    """A 1-D VARCHAR array (no NULLs) in the binary format."""
    encoded = [str(value).encode() for value in values]
    body = b"".join(_LENGTH.pack(len(item)) + item for item in encoded)
    return struct.pack(">iiiii", 1, 0, _VARCHAR_OID, len(encoded), 1) + body


def _run(row: Any) -> StoredRun:
    return StoredRun(
        id=int(row.id),
        portfolio_id=int(row.portfolio_id),
        portfolio=row.portfolio,
        start_date=row.start_date,
        end_date=row.end_date,
        rebalance_frequency=row.rebalance_frequency,
        transaction_cost=float(row.transaction_cost),
        initial_capital=float(row.initial_capital),
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        error=row.error,
        config=dict(row.config or {}),
    )


class BacktestRepository:
    """backtest_runs, backtest_holdings, backtest_timeseries, backtest_factor_exposures,
    backtest_sector_exposures and backtest_trades (holdings and trades through their storage
    tables, migration 0009)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- runs ------------------------------------------------------------------------------------

    def insert_run(
        self,
        portfolio_id: int,
        *,
        start: dt.date,
        end: dt.date,
        frequency: str,
        transaction_cost: float,
        initial_capital: float,
        config: dict[str, Any],
    ) -> int:
        """A new run in status PENDING (queued); returns its id."""
        return int(
            self._conn.execute(
                text(
                    "INSERT INTO backtest_runs (portfolio_id, start_date, end_date, "
                    "rebalance_frequency, transaction_cost, initial_capital, status, config) "
                    "VALUES (:p, :s, :e, :f, :c, :k, 'PENDING', CAST(:config AS JSONB)) "
                    "RETURNING id"
                ),
                {
                    "p": portfolio_id,
                    "s": start,
                    "e": end,
                    "f": frequency,
                    "c": transaction_cost,
                    "k": initial_capital,
                    "config": json.dumps(config),
                },
            ).scalar_one()
        )

    def set_status(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        """Move the run to `status` (finished_at is set on COMPLETED / FAILED); merge `config`."""
        self._conn.execute(
            text(
                "UPDATE backtest_runs SET status = CAST(:status AS VARCHAR), error = :error, "
                "config = config || CAST(:config AS JSONB), "
                "finished_at = CASE WHEN CAST(:status AS VARCHAR) IN ('COMPLETED', 'FAILED') "
                "THEN NOW() END "
                "WHERE id = :id"
            ),
            {"id": run_id, "status": status, "error": error, "config": json.dumps(config or {})},
        )

    def run(self, run_id: int) -> StoredRun | None:
        row = self._conn.execute(
            text(f"SELECT {_RUN_COLUMNS} WHERE r.id = :id"), {"id": run_id}
        ).first()
        return None if row is None else _run(row)

    def runs(self, *, portfolio_id: int | None = None) -> list[StoredRun]:
        """Every run, newest first."""
        rows = self._conn.execute(
            text(
                f"SELECT {_RUN_COLUMNS} WHERE CAST(:p AS BIGINT) IS NULL OR r.portfolio_id = :p "
                "ORDER BY r.id DESC"
            ),
            {"p": portfolio_id},
        )
        return [_run(row) for row in rows]

    # --- outputs: COPY ---------------------------------------------------------------------------

    def _copy(
        self,
        table: str,
        run_id: int,
        frame: pd.DataFrame,
        *,
        extra: dict[str, pa.Array] | None = None,
    ) -> int:
        if frame.empty:
            return 0
        columns = {"backtest_id": pa.array(np.full(len(frame), run_id, dtype=np.int64))}
        for name in frame.columns:
            values = frame[name]
            if pd.api.types.is_datetime64_any_dtype(values):  # DATE columns from datetime64
                columns[name] = pa.array(values.to_numpy().astype("datetime64[D]"))
            elif isinstance(values.dtype, pd.CategoricalDtype):  # decoded in Arrow, not Python
                codes = pa.array(values.cat.codes.to_numpy(), mask=values.isna().to_numpy())
                categories = pa.array([str(c) for c in values.cat.categories], pa.string())
                columns[name] = pa.DictionaryArray.from_arrays(codes, categories).cast(pa.string())
            else:
                columns[name] = pa.array(values.to_numpy(), from_pandas=True)
        columns.update(extra or {})
        arrow = pa.table(columns)
        with driver_connection(self._conn).cursor() as cursor:
            return copy_arrow(cursor, sql.Identifier(table), arrow)

    def write_symbols(
        self, run_id: int, symbols: Sequence[str], sectors: Sequence[str | None]
    ) -> int:
        """Every symbol the run held or traded, numbered from 1 for the holding and trade
        arrays, with its sector (the symbol foreign key is checked here, once per symbol)."""
        return self._copy(
            "backtest_symbols",
            run_id,
            pd.DataFrame(
                {
                    "position": np.arange(1, len(symbols) + 1, dtype=np.int32),
                    "symbol": list(symbols),
                    "sector": list(sectors),
                }
            ),
        )

    def write_holdings(
        self,
        run_id: int,
        sessions: pd.DatetimeIndex,
        periods: Sequence[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]],
    ) -> int:
        """Per period (first and last session row of `sessions`, 0-based numbers of the names
        held in `write_symbols`' order, their shares, their weights as names × sessions) one
        `backtest_holding_periods` row. `sessions` (the run's dates) are added to
        `backtest_dates`, which the view starts from. Returns the number of periods."""
        days = pd.DatetimeIndex(sessions)
        self._conn.execute(
            text(
                "INSERT INTO backtest_dates (date) SELECT unnest(CAST(:d AS DATE[])) "
                "ON CONFLICT DO NOTHING"
            ),
            {"d": days.date.tolist()},
        )
        day_numbers = _day_numbers(days)
        run = _scalar(run_id, ">i8")

        def rows() -> Iterator[list[bytes | memoryview]]:
            # One period at a time, the weights (most of the bytes) handed to COPY as a view
            # of the array numpy built, while psycopg's writer thread sends the previous one.
            for start, end, names, shares, weights in periods:
                dates = day_numbers[start : end + 1]
                yield [
                    run,
                    _scalar(dates[0], ">i4"),
                    _scalar(dates[-1], ">i4"),
                    _array(dates, _DATE_OID, ">i4"),
                    _array(np.asarray(names) + 1, _INT4_OID, ">i4"),
                    _array(shares, _FLOAT8_OID, ">f8"),
                    *_array_parts(weights, _FLOAT8_OID, ">f8"),
                ]

        self._copy_binary(
            "backtest_holding_periods",
            ["backtest_id", "valid_from", "valid_to", "dates", "positions", "shares", "weights"],
            rows(),
            split_last=True,
        )
        return len(periods)

    def write_timeseries(self, run_id: int, frame: pd.DataFrame) -> int:
        """Columns date, nav, return, cumulative_return, drawdown, volatility_rolling."""
        return self._copy("backtest_timeseries", run_id, frame)

    def write_sector_exposures(
        self,
        run_id: int,
        sessions: pd.DatetimeIndex,
        periods: Sequence[tuple[int, int, Sequence[str], np.ndarray]],
    ) -> int:
        """Per holding period (first and last session row of `sessions`, the sectors held,
        their weights as sectors × sessions) one `backtest_sector_periods` row; the
        `backtest_sector_exposures` view gives the daily rows. Returns the number of periods.
        (`write_holdings` adds the sessions to `backtest_dates`.)"""
        day_numbers = _day_numbers(pd.DatetimeIndex(sessions))
        rows = []
        for start, end, sectors, weights in periods:
            dates = day_numbers[start : end + 1]
            rows.append(
                [
                    _scalar(run_id, ">i8"),
                    _scalar(dates[0], ">i4"),
                    _scalar(dates[-1], ">i4"),
                    _array(dates, _DATE_OID, ">i4"),
                    _text_array(sectors),
                    _array(weights, _FLOAT8_OID, ">f8"),
                ]
            )
        self._copy_binary(
            "backtest_sector_periods",
            ["backtest_id", "valid_from", "valid_to", "dates", "sectors", "weights"],
            rows,
        )
        return len(rows)

    def write_factor_exposures(self, run_id: int, frame: pd.DataFrame) -> int:
        """Columns date and the five factors (nulls where no exposure is known)."""
        return self._copy("backtest_factor_exposures", run_id, frame)

    def write_trades(
        self,
        run_id: int,
        sets: Sequence[tuple[dt.date, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    ) -> int:
        """Per rebalance (decision date, 0-based numbers of the names traded in
        `write_symbols`' order, shares delta, signed value, cost) one `backtest_trade_sets`
        row. Returns the number of trades."""
        days = _day_numbers(pd.DatetimeIndex([day for day, *_ in sets]))
        rows = [
            [
                _scalar(run_id, ">i8"),
                _scalar(number, ">i4"),
                _array(np.asarray(names) + 1, _INT4_OID, ">i4"),
                _array(delta, _FLOAT8_OID, ">f8"),
                _array(value, _FLOAT8_OID, ">f8"),
                _array(cost, _FLOAT8_OID, ">f8"),
            ]
            for number, (_, names, delta, value, cost) in zip(days, sets, strict=True)
        ]
        self._copy_binary(
            "backtest_trade_sets",
            [
                "backtest_id",
                "rebalance_date",
                "positions",
                "shares_delta",
                "trade_value",
                "transaction_cost",
            ],
            rows,
        )
        return sum(len(names) for _, names, *_ in sets)

    def _copy_binary(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[bytes | memoryview]],
        *,
        split_last: bool = False,
    ) -> None:
        """COPY `rows` (each a list of encoded fields) in the binary format, row by row
        through psycopg's queued writer. `split_last`: a row's last field comes in two parts
        (an array's header and its elements), so its length is theirs summed."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        width = len(columns)
        with (
            driver_connection(self._conn).cursor() as cursor,
            cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy,
        ):
            copy.write(_COPY_HEADER)
            for fields in rows:
                last = len(fields) - (2 if split_last else 1)
                head = bytearray(_FIELDS.pack(width))
                for payload in fields[:last]:
                    head += _LENGTH.pack(len(payload))
                    head += payload
                tail = fields[last:]
                head += _LENGTH.pack(sum(len(part) for part in tail))
                head += tail[0]
                copy.write(bytes(head))
                for part in tail[1:]:
                    copy.write(part)
            copy.write(_FIELDS.pack(-1))

    # --- outputs: reads --------------------------------------------------------------------------

    def _frame(self, query: str, params: dict[str, Any]) -> pd.DataFrame:
        result = self._conn.execute(text(query), params)
        columns = list(result.keys())
        rows = [tuple(row) for row in result.fetchall()]  # plain tuples: no per-cell lookups
        return pd.DataFrame.from_records(rows, columns=columns)

    def timeseries(self, run_id: int) -> pd.DataFrame:
        """Index date; nav (float), return, cumulative_return, drawdown, volatility_rolling."""
        frame = self._frame(
            'SELECT date, nav::float8 AS nav, "return", cumulative_return, drawdown, '
            "volatility_rolling FROM backtest_timeseries WHERE backtest_id = :b ORDER BY date",
            {"b": run_id},
        )
        frame["date"] = pd.to_datetime(frame["date"])
        return frame.set_index("date")

    def holdings(self, run_id: int, *, day: dt.date | None = None) -> pd.DataFrame:
        """Rows date, symbol, shares, weight, sector (of one day if given), from the view."""
        return self._frame(
            "SELECT date, symbol, shares, weight, sector FROM backtest_holdings "
            "WHERE backtest_id = :b AND (CAST(:d AS DATE) IS NULL OR date = :d) "
            "ORDER BY date, symbol",
            {"b": run_id, "d": day},
        )

    def trades(self, run_id: int) -> pd.DataFrame:
        return self._frame(
            "SELECT rebalance_date, symbol, shares_delta, trade_value::float8 AS trade_value, "
            "transaction_cost::float8 AS transaction_cost FROM backtest_trades "
            "WHERE backtest_id = :b ORDER BY rebalance_date, symbol",
            {"b": run_id},
        )

    def sector_exposures(self, run_id: int) -> pd.DataFrame:
        return self._frame(
            "SELECT date, sector, weight FROM backtest_sector_exposures WHERE backtest_id = :b "
            "ORDER BY date, sector",
            {"b": run_id},
        )

    def factor_exposures(self, run_id: int) -> pd.DataFrame:
        return self._frame(
            "SELECT date, value, quality, momentum, low_vol, size FROM backtest_factor_exposures "
            "WHERE backtest_id = :b ORDER BY date",
            {"b": run_id},
        )

    def sector_totals(self, run_id: int, day: dt.date) -> dict[str, float]:
        """The 11.11 analytics query on one run and date: Σ weight per sector (NULL sectors
        under "None"). Read from the run's period covering `day` directly: the view's plan
        for one run scans the run's periods by date, this one looks up one."""
        rows = self._conn.execute(
            text(
                "SELECT s.sector, SUM(h.weight) AS weight FROM backtest_holding_periods p "
                "CROSS JOIN LATERAL (SELECT array_position(p.dates, CAST(:d AS DATE)) AS n) j "
                "CROSS JOIN LATERAL unnest(p.positions, p.weights[:][j.n:j.n]) "
                "AS h(position, weight) "
                "JOIN backtest_symbols s ON s.backtest_id = p.backtest_id "
                "AND s.position = h.position "
                "WHERE p.backtest_id = :b AND p.valid_from <= :d AND p.valid_to >= :d "
                "AND j.n IS NOT NULL GROUP BY s.sector"
            ),
            {"b": run_id, "d": day},
        )
        return {str(row.sector): float(row.weight) for row in rows}

    # --- inputs the walk-forward needs -----------------------------------------------------------

    def lookback_start(self, day: dt.date, sessions: int) -> dt.date | None:
        """The earliest of the `sessions` price dates before `day` (None without any)."""
        from stocker.store import panel

        return panel.lookback_start(self._conn, day, sessions)

    def member_history(self, universe_id: int) -> pd.DataFrame:
        """Every member row of a group with the days it joined and left (left: NaT if live).

        Columns symbol, joined, left, founding (joined on the group's first day of members).
        """
        frame = self._frame(
            "SELECT m.symbol, m.created_at::date AS joined, "
            "CASE WHEN m.is_deleted THEN COALESCE(m.updated_at, m.created_at)::date END "
            "AS left_on, "
            "m.created_at::date <= MIN(m.created_at::date) OVER () AS founding "
            "FROM instrument_universe_member m WHERE m.universe_id = :u ORDER BY m.symbol",
            {"u": universe_id},
        )
        return frame.rename(columns={"left_on": "left"})
