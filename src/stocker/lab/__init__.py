"""Research use cases: factors, risk model, screener, portfolio construction, backtests."""
