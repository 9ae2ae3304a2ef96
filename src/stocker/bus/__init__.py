"""Redis Streams adapter: the spec's message models, publish/consume, outbox relay."""
