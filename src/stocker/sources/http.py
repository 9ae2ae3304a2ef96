"""HTTP plumbing the vendor sources share: one error mapping and one retry policy.

Every vendor answers trouble differently (Yahoo with text, Alpaca and Kite with JSON bodies);
`error_for_status` turns the status code, headers and body into one error vocabulary so a
caller can tell "slow down" (`RateLimitedError`) from "bad credentials" (`SourceError` naming
the settings to set) from "no such symbol" (`UnknownSymbolError`, decided by each vendor
module before it falls back on the status), and `unreachable` words a network failure.
`RetryPolicy` is how every vendor rides out rate limiting.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from stocker.core.errors import RateLimitedError, SourceError
from stocker.sources.base import CredentialNames

T = TypeVar("T")

SNIPPET_CHARS = 300


def body_snippet(body: bytes | str, limit_chars: int = SNIPPET_CHARS) -> str:
    """The start of a response body, on one line, for error messages."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit_chars else text[:limit_chars] + "…"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), if usable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value by case-insensitive name (works for plain dicts too)."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def error_for_status(
    *,
    vendor: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    what: str,
    credentials: CredentialNames | None = None,
) -> SourceError | None:
    """The Stocker error for an HTTP error status, or None for a success status.

    429 becomes `RateLimitedError` carrying the Retry-After delay; 401/403 a `SourceError` that
    names the settings holding the credentials; anything else >= 400 a `SourceError` with the
    status and the start of the body.
    """
    if status < 400:
        return None
    snippet = body_snippet(body)
    if status == 429:
        retry_after_s = parse_retry_after(header(headers, "Retry-After"))
        when = f"retry after {retry_after_s:g} s" if retry_after_s is not None else "no Retry-After"
        return RateLimitedError(
            f"{vendor} rate-limited the request for {what} (HTTP 429, {when}): {snippet}",
            retry_after_s=retry_after_s,
        )
    if status in (401, 403):
        if credentials is not None:
            fix = f"set {credentials} to valid credentials"
        else:
            fix = "the vendor refused access to this endpoint"
        return SourceError(
            f"{vendor} refused the request for {what} (HTTP {status}): {snippet}; {fix}"
        )
    return SourceError(f"{vendor} answered HTTP {status} for {what}: {snippet}")


def decode_json(*, vendor: str, body: bytes, what: str) -> Any:
    """Parse a JSON body, turning a truncated or garbled payload into a clear `SourceError`."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        position = getattr(error, "pos", getattr(error, "start", "?"))
        raise SourceError(
            f"{vendor} returned invalid or truncated JSON for {what} ({len(body)} bytes, "
            f"error at byte {position}: {getattr(error, 'msg', error)}); "
            f"body starts: {body_snippet(body, 120)}"
        ) from error


def unreachable(vendor: str, what: str, error: Exception) -> SourceError:
    """The error for a request that got no answer (DNS, refused connection, timeout, TLS)."""
    return SourceError(f"{vendor} could not be reached for {what}: {error}")


@dataclass(frozen=True)
class RetryPolicy:
    """How a vendor call rides out rate limiting (`RateLimitedError`), the same for every vendor.

    Up to `retries` more attempts, each after what the vendor asked (Retry-After) or, when it did
    not say, `backoff_s * 2**attempt`. Gives up at once, re-raising the vendor's error, when the
    wait would exceed `max_wait_s`: a batch job should fail clearly rather than hang for an hour.
    """

    retries: int = 2
    max_wait_s: float = 60.0
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def run(self, call: Callable[[], T]) -> T:
        """`call()`, retried on `RateLimitedError` as the policy says."""
        attempt = 0
        while True:
            try:
                return call()
            except RateLimitedError as error:
                if attempt >= self.retries:
                    raise
                wait_s = (
                    error.retry_after_s
                    if error.retry_after_s is not None
                    else self.backoff_s * 2**attempt
                )
                if wait_s > self.max_wait_s:
                    raise
                self.sleep(wait_s)
                attempt += 1


class ResponseRecorder:
    """Keeps every response a vendor client's `requests.Session` receives, in order.

    Vendor clients (alpaca-py, kiteconnect) parse responses themselves and drop the bytes; a
    response hook keeps them so each row can carry the hash of the payload it came from, and so
    error handling can read headers such as Retry-After.
    """

    def __init__(self) -> None:
        self.responses: list[Any] = []

    def __call__(self, response: Any, *args: object, **kwargs: object) -> Any:
        # Reading `.content` here buffers the body before the client consumes it.
        _ = response.content
        self.responses.append(response)
        return response

    def attach(self, session: Any) -> None:
        """Register on a `requests.Session` (its `hooks["response"]` list)."""
        session.hooks["response"].append(self)

    def clear(self) -> None:
        self.responses.clear()

    def successful(self) -> list[Any]:
        """The responses with a 2xx status, oldest first."""
        return [response for response in self.responses if 200 <= response.status_code < 300]
