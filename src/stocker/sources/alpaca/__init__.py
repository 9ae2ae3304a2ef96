"""Alpaca: historical bars and corporate actions (`historical.AlpacaSource`) and live minute
bars (`stream.AlpacaLiveFeed`), both through alpaca-py, sharing `common`."""
