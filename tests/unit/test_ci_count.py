"""`.ci/count_service_tests.py` fails CI when a PostgreSQL/Redis test was skipped or none ran."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "count_service_tests.py"


def _count(report: Path) -> int:
    spec = importlib.util.spec_from_file_location("count_service_tests", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(str(report)))


def _report(tmp_path: Path, *cases: str) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
        f'<testsuite name="pytest" tests="{len(cases)}">{"".join(cases)}</testsuite></testsuites>'
    )
    return path


PASSED = '<testcase classname="tests.integration.bus.test_consumer" name="test_a" time="1" />'
E2E = '<testcase classname="tests.e2e.test_cli_demo" name="test_demo" time="1" />'
SKIPPED = (
    '<testcase classname="tests.integration.store.test_migrations" name="test_b" time="0">'
    '<skipped type="pytest.skip" message="no server">skip</skipped></testcase>'
)
UNIT_SKIPPED = (
    '<testcase classname="tests.unit.core.test_returns" name="test_c" time="0">'
    '<skipped type="pytest.skip" message="n/a">skip</skipped></testcase>'
)
FAILED = (
    '<testcase classname="tests.integration.bus.test_relay" name="test_d" time="1">'
    '<failure message="boom">boom</failure></testcase>'
)


def test_count_when_every_service_test_passed_succeeds_and_prints_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _count(_report(tmp_path, PASSED, E2E, UNIT_SKIPPED)) == 0
    assert "PostgreSQL/Redis tests: 2 passed, 0 failed, 0 skipped" in capsys.readouterr().out


@pytest.mark.parametrize("case", [SKIPPED, FAILED], ids=["skipped", "failed"])
def test_count_when_a_service_test_did_not_pass_fails(tmp_path: Path, case: str) -> None:
    assert _count(_report(tmp_path, PASSED, case)) == 1


def test_count_when_no_service_test_ran_fails(tmp_path: Path) -> None:
    assert _count(_report(tmp_path, UNIT_SKIPPED)) == 1
