"""What Alpaca's historical sources (bars, news) and its live streams share: names, credential
settings, the call-and-record of REST pages with their error translation, wire timestamps and
driving a websocket stream until asked to stop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import msgpack
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.live.websocket import DataStream

from stocker.core.errors import SourceError, UnknownSymbolError
from stocker.sources.base import CredentialNames, require_credentials
from stocker.sources.http import (
    ResponseRecorder,
    RetryPolicy,
    body_snippet,
    decode_json,
    error_for_status,
    unreachable,
)

if TYPE_CHECKING:
    from stocker.config import Credentials

SOURCE_NAME = "alpaca"
VENDOR = "Alpaca"
CREDENTIALS = CredentialNames("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
MARKET_ZONE = ZoneInfo("America/New_York")
# Alpaca's consolidated history starts in 2016; asking from then is "everything".
EARLIEST_DATE = date(2016, 1, 1)


def alpaca_credentials(credentials: Credentials | None) -> Credentials:
    """The key pair the composition root handed over, or an error naming the settings."""
    return require_credentials(
        credentials,
        CREDENTIALS,
        needs=f"{VENDOR} needs an API key pair (from https://app.alpaca.markets, 'API Keys')",
    )


def market_window(
    start: date | None, end: date | None, tick: timedelta
) -> tuple[datetime, datetime | None]:
    """New York midnight of `start` (else `EARLIEST_DATE`) through the last `tick` of `end`
    (None: open-ended), the window Alpaca's REST calls take for a range of dates."""
    first = datetime.combine(start or EARLIEST_DATE, clock_time(0), MARKET_ZONE)
    if end is None:
        return first, None
    return first, datetime.combine(end + timedelta(days=1), clock_time(0), MARKET_ZONE) - tick


def no_client_retries(client: Any) -> None:
    """Switch off alpaca-py's own 429 retries (a fixed 3 s sleep that ignores Retry-After): the
    sources retry instead, with their `RetryPolicy`."""
    client._retry = 0


def recorded_pages(
    recorder: ResponseRecorder, retry: RetryPolicy, call: Callable[[], object], what: str
) -> list[requests.Response]:
    """Run one alpaca-py REST call (retried by `retry`); return the pages `recorder` kept, or
    raise a Stocker error."""

    def attempt() -> list[requests.Response]:
        recorder.clear()
        try:
            call()
        except APIError as error:
            raise translate_error(error, what) from error
        except requests.exceptions.JSONDecodeError as error:
            body = recorder.responses[-1].content if recorder.responses else b""
            decode_json(vendor=VENDOR, body=body, what=what)
            raise SourceError(f"{VENDOR} returned unreadable JSON for {what}") from error
        except requests.RequestException as error:
            raise unreachable(VENDOR, what, error) from error
        return recorder.successful()

    return retry.run(attempt)


def translate_error(error: APIError, what: str) -> SourceError:
    """The Stocker error for an alpaca-py `APIError` (status, Retry-After, Alpaca's message)."""
    response = error.response
    status = error.status_code or 0
    body = response.content if response is not None else str(error).encode()
    headers = dict(response.headers) if response is not None else {}
    message = vendor_message(body)
    if status in (400, 422) and "symbol" in message.lower():
        return UnknownSymbolError(f"{VENDOR} rejected a symbol in {what}: {message}")
    translated = error_for_status(
        vendor=VENDOR,
        status=status,
        headers=headers,
        body=body,
        what=what,
        credentials=CREDENTIALS,
    )
    if status == 403 and "subscription" in message.lower():
        return SourceError(f"{VENDOR} refused {what}: {message}; use feed='iex' on a free plan")
    return translated or SourceError(f"{VENDOR} failed for {what}: {message}")


def vendor_message(body: bytes) -> str:
    """Alpaca's `{"code": ..., "message": ...}` error text, or the body's start."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body_snippet(body)
    if isinstance(payload, Mapping) and payload.get("message"):
        code = payload.get("code")
        return f"{payload['message']} (code {code})" if code else str(payload["message"])
    return body_snippet(body)


def wire_moment(value: Any) -> datetime:
    """A wire timestamp (RFC 3339 text, msgpack Timestamp or datetime) as an aware UTC time."""
    if isinstance(value, msgpack.Timestamp):
        return value.to_datetime().astimezone(UTC)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


class AuthRecording(DataStream):
    """An alpaca-py stream that remembers an authentication refusal instead of retrying forever
    (mixed in before the stream class: `class S(AuthRecording, StockDataStream)`)."""

    auth_error: str | None = None

    async def _auth(self) -> None:
        try:
            await super()._auth()
        except ValueError as error:
            self.auth_error = str(error)
            await self.stop_ws()
            raise


async def drive(
    stream: AuthRecording,
    stop_event: threading.Event,
    poll_s: float,
    failed: Callable[[], bool],
) -> None:
    """Run `stream` until it ends, `stop_event` is set, `failed()` or its keys are refused.

    `_run_forever` is the loop alpaca-py's `run()` wraps in `asyncio.run`; awaiting it here lets
    this coroutine watch `stop_event` and close the socket promptly.
    """
    runner = asyncio.create_task(stream._run_forever())
    while not (runner.done() or stop_event.is_set() or failed() or stream.auth_error):
        await asyncio.sleep(poll_s)
    if not runner.done():
        await stream.stop_ws()
        await stream.close()
    await runner
