"""Trimming a stream to its MAXLEN without dropping what some consumer group still needs.

`XADD … MAXLEN ~ N` removes the oldest entries whether or not every group has read and
acknowledged them: a group whose consumers were down while more than N events were published
lost the oldest ones for good (and XAUTOCLAIM then reports pending entries as deleted). The relay
therefore adds without a MAXLEN and trims afterwards, only below the *acknowledged floor*: the
oldest entry some group has not yet acknowledged (its oldest pending entry, or the first entry
after its last-delivered id). A lagging group makes the stream grow past MAXLEN until it catches
up; `stocker bus status` shows such a group's pending count and the stream's length.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import redis
from redis.exceptions import ResponseError

from stocker.bus import streams

log = logging.getLogger(__name__)


def acknowledged_floor(client: redis.Redis, key: str) -> tuple[int, int] | None:
    """The oldest id of `key` some group still needs; None when the stream has no group."""
    floor: tuple[int, int] | None = None
    for group in client.xinfo_groups(key):
        name = streams.as_text(group["name"])
        if int(group["pending"]) > 0:
            summary: Any = client.xpending(key, name)
            needed = streams.parse_stream_id(summary["min"])
        else:
            milliseconds, sequence = streams.parse_stream_id(group["last-delivered-id"])
            needed = (milliseconds, sequence + 1)
        floor = needed if floor is None else min(floor, needed)
    return floor


def trim(client: redis.Redis, key: str, maxlen: int, registered: Collection[str] = ()) -> int:
    """Trim `key` towards `maxlen` entries, never past an entry some group has not acknowledged.

    `registered` are the groups PostgreSQL knows of: while one of them is missing from Redis
    (recovery will recreate it from the start) nothing is trimmed. Returns the entries removed.
    """
    excess = int(client.xlen(key)) - maxlen
    if excess <= 0:
        return 0
    try:
        present = {streams.as_text(group["name"]) for group in client.xinfo_groups(key)}
        if set(registered) - present:
            return 0
        floor = acknowledged_floor(client, key)
    except ResponseError:  # the stream vanished meanwhile (a flush): recovery's business
        return 0
    if floor is None:
        return int(client.xtrim(key, maxlen=maxlen, approximate=False))
    oldest: Any = client.xrange(key, "-", f"({floor[0]}-{floor[1]}", count=excess)
    if not oldest:
        return 0
    milliseconds, sequence = streams.parse_stream_id(oldest[-1][0])
    removed = int(client.xtrim(key, minid=f"{milliseconds}-{sequence + 1}", approximate=False))
    if removed < excess:
        log.info(
            "%s holds %d entries over its MAXLEN %d: a consumer group has not acknowledged them",
            key,
            excess - removed,
            maxlen,
        )
    return removed
