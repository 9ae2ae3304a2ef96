"""The plumbing every vendor shares: the retry policy and the status-to-error mapping."""

from __future__ import annotations

import pytest

from stocker.config import Credentials
from stocker.core.errors import RateLimitedError, SourceError
from stocker.sources.base import CredentialNames, require_credentials
from stocker.sources.http import RetryPolicy, error_for_status

NAMES = CredentialNames("ALPACA_API_KEY", "ALPACA_SECRET_KEY")


class Flaky:
    """Rate-limited `failures` times (with the given Retry-After), then answers 'ok'."""

    def __init__(self, failures: int, retry_after_s: float | None) -> None:
        self.failures = failures
        self.retry_after_s = retry_after_s
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RateLimitedError("slow down", retry_after_s=self.retry_after_s)
        return "ok"


def test_retry_policy_when_vendor_names_the_wait_sleeps_that_long_then_succeeds() -> None:
    waits: list[float] = []
    call = Flaky(failures=2, retry_after_s=3.0)

    assert RetryPolicy(retries=2, sleep=waits.append).run(call) == "ok"

    assert waits == [3.0, 3.0]
    assert call.calls == 3


def test_retry_policy_when_vendor_names_no_wait_backs_off_exponentially() -> None:
    waits: list[float] = []

    RetryPolicy(retries=3, backoff_s=0.5, sleep=waits.append).run(Flaky(3, None))

    assert waits == [0.5, 1.0, 2.0]


def test_retry_policy_when_retries_run_out_raises_the_vendors_error() -> None:
    waits: list[float] = []
    call = Flaky(failures=5, retry_after_s=1.0)

    with pytest.raises(RateLimitedError, match="slow down"):
        RetryPolicy(retries=1, sleep=waits.append).run(call)

    assert (waits, call.calls) == ([1.0], 2)


def test_retry_policy_when_the_wait_exceeds_the_cap_gives_up_at_once() -> None:
    waits: list[float] = []

    with pytest.raises(RateLimitedError):
        RetryPolicy(retries=5, max_wait_s=10.0, sleep=waits.append).run(Flaky(1, 3600.0))

    assert waits == []


def test_error_for_status_maps_429_401_and_other_errors() -> None:
    limited = error_for_status(
        vendor="V", status=429, headers={"retry-after": "7"}, body=b"busy", what="bars"
    )
    refused = error_for_status(
        vendor="V", status=401, headers={}, body=b"no", what="bars", credentials=NAMES
    )
    broken = error_for_status(vendor="V", status=500, headers={}, body=b"oops", what="bars")

    assert isinstance(limited, RateLimitedError) and limited.retry_after_s == 7.0
    assert isinstance(refused, SourceError)
    assert "set STOCKER_ALPACA_API_KEY and STOCKER_ALPACA_SECRET_KEY" in str(refused)
    assert "HTTP 500" in str(broken) and "oops" in str(broken)
    assert error_for_status(vendor="V", status=200, headers={}, body=b"", what="bars") is None


def test_require_credentials_names_the_settings_and_never_a_secret() -> None:
    with pytest.raises(SourceError) as caught:
        require_credentials(Credentials("PKKEY", ""), NAMES, needs="V needs keys")

    message = str(caught.value)
    assert message.startswith("V needs keys: set STOCKER_ALPACA_API_KEY and ")
    assert "(or ALPACA_API_KEY and ALPACA_SECRET_KEY)" in message
    assert "PKKEY" not in message
    pair = Credentials("PKKEY", "secret")
    assert require_credentials(pair, NAMES, needs="V needs keys") is pair
