"""Yahoo Finance: daily and intraday bars, splits, dividends, profile and fundamentals.

The source is named `yfinance` after the library its users know, but it speaks Yahoo's HTTP API
directly with httpx, calling the same endpoints yfinance calls (`/v8/finance/chart` with
`events=div,splits&includeAdjustedClose=true`, `/v10/finance/quoteSummary` with the modules behind
`Ticker.info`, after the cookie + `/v1/test/getcrumb` handshake). yfinance hard-codes Yahoo's
hosts and keeps process-wide caches; speaking HTTP ourselves lets the base URL be configured,
keeps the raw bytes each row came from (for `source_hash`), and maps every error shape onto
`stocker.core.errors`.

`client` speaks HTTP (retries, crumb, error shapes), `chart` turns a chart response into bars
and corporate actions, `fundamentals` a quoteSummary response into profile and metrics rows,
and `source` puts them together as the `yfinance` source.
"""

from stocker.sources.yahoo.source import YahooSource

__all__ = ["YahooSource"]
