"""The sample data: real daily prices that ship inside the installed `skfolio` wheel.

Three CSV files, read from the package (no network): 20 S&P 500 stocks and the S&P 500 index
from 1990-01-02 to 2022-12-28, and five iShares factor ETFs from 2014-01-02. They hold one
number per symbol per day, the adjusted close, so the bars made here are flat
(open = high = low = close = adj_close) with volume 0, and their `source` says so.
`SAMPLE_DESCRIPTION` (also in docs/data.md) spells out what the data is and lacks.
`stocker.data.sample.load_sample` stores these rows.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from stocker.core.errors import DataError
from stocker.sources.base import payload_hash

SAMPLE_DESCRIPTION = """\
What the sample is: daily adjusted closing prices shipped inside the skfolio package
(skfolio.datasets): 20 large US stocks (AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE
PG RRC UNH WMT XOM) and the S&P 500 index (symbol SP500), 1990-01-02 to 2022-12-28, and five
iShares MSCI USA factor ETFs (MTUM QUAL SIZE USMV VLUE), 2014-01-02 to 2022-12-28.
What it lacks:
- Adjusted close only. Open, high and low are not in the data: they are stored equal to the close
  (flat bars), so ranges, gaps and intraday signals are meaningless on it.
- No volume: stored as 0, so liquidity filters and volume-weighted measures see nothing.
- No raw prices and no corporate actions: close = adj_close (already split- and
  dividend-adjusted); no dividends or splits are stored.
- Survivorship bias: the stocks are companies still in the S&P 500 when the data was compiled,
  chosen with hindsight; none failed or was delisted, which flatters any backtest.
- Stale and for testing only: it ends 2022-12-28 and is not authoritative market data.
Sectors and industries are GICS as of December 2022, exchanges as listed then."""


@dataclass(frozen=True)
class Listing:
    """What we record about a sample symbol in `instrument_info`."""

    name: str
    sector: str | None
    industry: str | None
    exchange: str | None
    asset_class: str = "US_EQUITY"
    active: bool = True


# GICS sector and industry as of December 2022 (the end of the data).
STOCK_LISTINGS: dict[str, Listing] = {
    "AAPL": Listing("Apple Inc.", "Information Technology",
                    "Technology Hardware, Storage & Peripherals", "NASDAQ"),
    "AMD": Listing("Advanced Micro Devices, Inc.", "Information Technology",
                   "Semiconductors & Semiconductor Equipment", "NASDAQ"),
    "BAC": Listing("Bank of America Corporation", "Financials", "Banks", "NYSE"),
    "BBY": Listing("Best Buy Co., Inc.", "Consumer Discretionary", "Specialty Retail", "NYSE"),
    "CVX": Listing("Chevron Corporation", "Energy", "Oil, Gas & Consumable Fuels", "NYSE"),
    "GE": Listing("General Electric Company", "Industrials", "Industrial Conglomerates", "NYSE"),
    "HD": Listing("The Home Depot, Inc.", "Consumer Discretionary", "Specialty Retail", "NYSE"),
    "JNJ": Listing("Johnson & Johnson", "Health Care", "Pharmaceuticals", "NYSE"),
    "JPM": Listing("JPMorgan Chase & Co.", "Financials", "Banks", "NYSE"),
    "KO": Listing("The Coca-Cola Company", "Consumer Staples", "Beverages", "NYSE"),
    "LLY": Listing("Eli Lilly and Company", "Health Care", "Pharmaceuticals", "NYSE"),
    "MRK": Listing("Merck & Co., Inc.", "Health Care", "Pharmaceuticals", "NYSE"),
    "MSFT": Listing("Microsoft Corporation", "Information Technology", "Software", "NASDAQ"),
    "PEP": Listing("PepsiCo, Inc.", "Consumer Staples", "Beverages", "NASDAQ"),
    "PFE": Listing("Pfizer Inc.", "Health Care", "Pharmaceuticals", "NYSE"),
    "PG": Listing("The Procter & Gamble Company", "Consumer Staples", "Household Products",
                  "NYSE"),
    "RRC": Listing("Range Resources Corporation", "Energy", "Oil, Gas & Consumable Fuels",
                   "NYSE"),
    "UNH": Listing("UnitedHealth Group Incorporated", "Health Care",
                   "Health Care Providers & Services", "NYSE"),
    "WMT": Listing("Walmart Inc.", "Consumer Staples", "Food & Staples Retailing", "NYSE"),
    "XOM": Listing("Exxon Mobil Corporation", "Energy", "Oil, Gas & Consumable Fuels", "NYSE"),
}  # fmt: skip
INDEX_LISTINGS: dict[str, Listing] = {
    # An index is not tradable: `active` false keeps it out of tradable lists.
    "SP500": Listing("S&P 500 Index", None, None, None, asset_class="INDEX", active=False),
}
ETF_LISTINGS: dict[str, Listing] = {
    "MTUM": Listing("iShares MSCI USA Momentum Factor ETF", None, None, "CBOE", "ETF"),
    "QUAL": Listing("iShares MSCI USA Quality Factor ETF", None, None, "CBOE", "ETF"),
    "SIZE": Listing("iShares MSCI USA Size Factor ETF", None, None, "CBOE", "ETF"),
    "USMV": Listing("iShares MSCI USA Min Vol Factor ETF", None, None, "CBOE", "ETF"),
    "VLUE": Listing("iShares MSCI USA Value Factor ETF", None, None, "CBOE", "ETF"),
}
LISTING_SOURCE = "stocker:sample_listings (GICS 2022-12)"


@dataclass(frozen=True)
class SampleDataset:
    """One CSV of the skfolio wheel and how its rows are labelled."""

    name: str
    file_name: str
    source: str
    listings: dict[str, Listing]


DATASETS: tuple[SampleDataset, ...] = (
    SampleDataset(
        "sp500_dataset", "sp500_dataset.csv.gz", "skfolio:sp500_dataset:adj_close_only",
        STOCK_LISTINGS,
    ),
    SampleDataset(
        "sp500_index", "sp500_index.csv.gz", "skfolio:sp500_index:adj_close_only", INDEX_LISTINGS
    ),
    SampleDataset(
        "factors_dataset", "factors_dataset.csv.gz", "skfolio:factors_dataset:adj_close_only",
        ETF_LISTINGS,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DatasetSummary:
    """What one dataset contributed: symbols, bars, date range and the hash of its CSV."""

    name: str
    source: str
    symbols: int
    rows: int
    first_date: date
    last_date: date
    source_hash: str


@dataclass
class SampleFrames:
    """The rows to write: `instrument_info` first (foreign keys), then `prices_daily`."""

    instruments: pd.DataFrame
    prices: pd.DataFrame
    datasets: list[DatasetSummary] = field(default_factory=list)


def _data_directory() -> Path:
    """Where the installed skfolio keeps its dataset files, found without importing skfolio
    (whose import pulls in scikit-learn and takes seconds)."""
    spec = importlib.util.find_spec("skfolio")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("skfolio: the package is not installed; expected it (a Stocker dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def read_csv_bytes(dataset: SampleDataset) -> bytes:
    """The decompressed CSV of a dataset, as shipped in the installed skfolio wheel."""
    path = _data_directory() / dataset.file_name
    if not path.is_file():
        raise DataError(f"skfolio dataset {dataset.file_name}: not found at {path}")
    return gzip.decompress(path.read_bytes())


def _prices(dataset: SampleDataset, payload: bytes) -> pd.DataFrame:
    """Wide CSV (Date × symbol) to long flat bars: every price column is the adjusted close."""
    wide = pd.read_csv(io.BytesIO(payload), index_col=0)
    wide.index = pd.to_datetime(wide.index, format="%Y-%m-%d").rename("date")
    long = wide.rename_axis(columns="symbol").melt(ignore_index=False, value_name="adj_close")
    long = long.dropna(subset=["adj_close"]).reset_index()
    for column in ("open", "high", "low", "close"):
        long[column] = long["adj_close"]
    long["volume"] = 0
    long["source"] = dataset.source
    long["source_hash"] = payload_hash(payload)
    columns = ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
    return long[[*columns, "source", "source_hash"]].sort_values(["symbol", "date"])


def _instruments(datasets: tuple[SampleDataset, ...]) -> pd.DataFrame:
    rows = [
        {
            "symbol": symbol,
            "name": listing.name,
            "asset_class": listing.asset_class,
            "sector": listing.sector,
            "industry": listing.industry,
            "exchange": listing.exchange,
            "currency": "USD",
            "active": listing.active,
            "source": LISTING_SOURCE,
        }
        for dataset in datasets
        for symbol, listing in dataset.listings.items()
    ]
    frame = pd.DataFrame(rows)
    frame["source_hash"] = payload_hash(frame.to_csv(index=False).encode())
    return frame


def sample_frames() -> SampleFrames:
    """Read the three datasets from the skfolio wheel into `instrument_info` / `prices_daily` rows.

    Raises
    ------
    DataError
        When a CSV holds a symbol the listings do not describe (a changed skfolio dataset).
    """
    price_frames = []
    summaries = []
    for dataset in DATASETS:
        payload = read_csv_bytes(dataset)
        prices = _prices(dataset, payload)
        unknown = sorted(set(prices["symbol"].unique()) - set(dataset.listings))
        if unknown:
            raise DataError(
                f"{dataset.file_name}: symbols {unknown} have no listing; expected only "
                f"{sorted(dataset.listings)}"
            )
        price_frames.append(prices)
        summaries.append(
            DatasetSummary(
                name=dataset.name,
                source=dataset.source,
                symbols=prices["symbol"].nunique(),
                rows=len(prices),
                first_date=prices["date"].min().date(),
                last_date=prices["date"].max().date(),
                source_hash=payload_hash(payload),
            )
        )
    prices = pd.concat(price_frames, ignore_index=True)
    return SampleFrames(instruments=_instruments(DATASETS), prices=prices, datasets=summaries)
