"""schemathesis over the whole OpenAPI schema: at least 1,000 generated requests with a valid
read + research key, none answered with a 5xx nor outside its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine

from stocker.api.auth import create_key
from stocker.bootstrap import App
from stocker.store.uow import SqlUnitOfWork

from .market_data import backtest_market

EXAMPLES_PER_OPERATION = 20
MINIMUM_REQUESTS = 1000


@pytest.mark.slow
def test_generated_requests_over_every_operation_get_no_5xx_and_conform_to_the_schema(
    app: App, api_app: FastAPI, uow: SqlUnitOfWork, engine: Engine
) -> None:
    backtest_market.load_market(uow, engine)
    key, _ = create_key(app, "schemathesis", ["read", "research"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    headers = {"Authorization": f"Bearer {key}"}
    sent: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            sent.append(f"{case.method} {case.path}")
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        check()

    print(f"schemathesis: {len(sent)} requests over {len(operations)} operations")
    assert len(operations) > 50
    assert len(sent) >= MINIMUM_REQUESTS, f"{len(sent)} requests over {len(operations)} operations"
