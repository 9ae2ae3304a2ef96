"""Broker adapters: the live brokers orders go to (the paper broker is pure and lives in
`stocker.trading.brokers`)."""
