"""Trading use cases: pipeline stages, order manager, brokers, ledger."""
