"""Stream key names follow the installation's prefix; stream ids compare in stream order."""

from __future__ import annotations

from stocker.bus import streams
from stocker.config import Settings


def test_stream_key_when_prefix_is_set_prefixes_stream_and_dead_letter_names() -> None:
    settings = Settings(
        stream_prefix="prod:", database_url="postgresql://x/y", redis_url="redis://"
    )

    assert streams.stream_key(settings, "market-bars") == "prod:market-bars"
    assert streams.dead_letter_key(settings, "market-bars") == "prod:market-bars:dead"


def test_parse_stream_id_when_sequences_differ_orders_numerically_not_as_text() -> None:
    assert streams.parse_stream_id(b"1700000000000-10") > streams.parse_stream_id("1700000000000-9")
    assert streams.parse_stream_id("1700000000001-0") > streams.parse_stream_id("1700000000000-99")


def test_frame_when_built_carries_event_id_and_data_only() -> None:
    assert streams.frame("e", "{}") == {"event_id": "e", "data": "{}"}
