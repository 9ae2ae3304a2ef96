"""Long Redis values are shown cut, with their size; bytes are shown as text."""

from __future__ import annotations

from stocker.bus import streams


def test_preview_when_value_is_longer_than_limit_cuts_it_and_gives_its_size() -> None:
    assert streams.preview("é" * 10, 4) == "éééé…[20 bytes]"
    assert streams.preview("short", 10) == "short"
    assert streams.preview("x" * 50, 0) == "x" * 50


def test_lenient_text_when_bytes_are_not_utf8_replaces_them() -> None:
    assert streams.lenient_text(b"ab\xff") == "ab\ufffd"
    assert streams.lenient_text("already") == "already"
