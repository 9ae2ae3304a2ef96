"""`stocker sentiment ingest|release|score|show`: news in (refused rows kept in quarantine and
released once fixed), offline scores, point-in-time sentiment out."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from stocker.cli.app import app, app_of, console
from stocker.cli.data_ingest import Ids, _corrections
from stocker.cli.errors import clear_errors
from stocker.cli.render import counts_table, spinner

if TYPE_CHECKING:
    import pandas as pd

sentiment_app = typer.Typer(
    help="News sentiment: ingest articles, score them offline, show the aggregated series.",
    no_args_is_help=True,
)
app.add_typer(sentiment_app, name="sentiment")

DATE_FORMATS = ["%Y-%m-%d"]
REJECTS_SHOWN = 10
QUARANTINE_LIST = "stocker data quarantine list --table news_articles"
BAR_WIDTH = 20
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
StartOption = Annotated[
    datetime | None, typer.Option("--start", formats=DATE_FORMATS, help="First date (inclusive).")
]
EndOption = Annotated[
    datetime | None, typer.Option("--end", formats=DATE_FORMATS, help="Last date (inclusive).")
]
ScorerOption = Annotated[
    str, typer.Option("--scorer", help="lm (Loughran-McDonald, default), vader or finbert.")
]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@sentiment_app.command("ingest")
@clear_errors
def ingest(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="A news file: CSV or JSON lines (docs/sentiment.md)."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="A news vendor instead of a file: alpaca.")
    ] = None,
    symbols: Annotated[
        str, typer.Option("--symbols", help="Comma-separated symbols (vendor; default all).")
    ] = "",
    start: StartOption = None,
    end: EndOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store news articles once each (re-ingesting the same news changes nothing)."""
    from stocker.core.errors import DataError
    from stocker.data.news import fetch_and_ingest_news, ingest_news_file, open_news_source

    if (file is None) == (source is None):
        raise DataError("give either --file PATH or --source alpaca")
    application = app_of(ctx)
    with spinner() as progress:
        progress.add_task("ingesting news…", total=None)
        if file is not None:
            report = ingest_news_file(application.uow(), file)
        else:
            assert source is not None
            news_source = open_news_source(source, credentials=application.credentials)
            report = fetch_and_ingest_news(
                application.uow(),
                news_source,
                symbols=[item.strip().upper() for item in symbols.split(",") if item.strip()],
                start=_day(start),
                end=_day(end),
            )
    rejected: list[dict[str, Any]] = [
        {"line": reject.row_number, "reasons": list(reject.reasons)} for reject in report.rejected
    ]
    if as_json:
        payload = {
            "source": report.source,
            "batch_id": str(report.batch_id),
            "received": report.received,
            "inserted": report.inserted,
            "unchanged": report.unchanged,
            "differing": report.differing,
            "rejected": rejected,
            "quarantined": report.quarantined,
            "warnings": report.warnings,
        }
        console.print_json(json.dumps(payload))
        return
    console.print(
        counts_table(
            f"news from {file.name if file else source}",
            {
                "received": report.received,
                "new articles": report.inserted,
                "already stored": report.unchanged,
                "stored, content differs (kept)": len(report.differing),
                "rejected": len(report.rejected),
                "newly quarantined": report.quarantined,
            },
        )
    )
    for item in rejected[:REJECTS_SHOWN]:
        where = f"line {item['line']}" if item["line"] is not None else "article"
        console.print(f"{where}: {'; '.join(item['reasons'])}", markup=False)
    if len(rejected) > REJECTS_SHOWN:
        console.print(f"… and {len(rejected) - REJECTS_SHOWN} more rejected rows")
    _quarantine_hint(len(report.rejected), report.quarantined)
    for warning in report.warnings:
        console.print(f"warning: {warning}", markup=False)


def _quarantine_hint(rejected: int, quarantined: int) -> None:
    """Where the refused rows are and what to do with them."""
    if not rejected:
        return
    if quarantined:
        console.print(f"{quarantined} refused row(s) kept in quarantine", markup=False)
    if rejected > quarantined:
        console.print(
            f"{rejected - quarantined} refused row(s) were already in quarantine "
            "(an earlier run of the same news)",
            markup=False,
        )
    console.print(
        f"see them: {QUARANTINE_LIST}; fix one: stocker sentiment release ID "
        "--set published_at=2022-12-27T14:30:00Z; or: stocker data quarantine discard ID "
        "--note WHY",
        markup=False,
        soft_wrap=True,
    )


@sentiment_app.command("release")
@clear_errors
def release(
    ctx: typer.Context,
    ids: Ids,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Correct a field, by news column or the row's own name: --set "
            "published_at=2022-12-27T14:30:00Z, --set Title='Apple beats' (--set field= clears).",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why it is released.")] = None,
) -> None:
    """Check quarantined news rows again (with corrections) and store those that now pass."""
    from stocker.data.news_release import release_news

    report = release_news(app_of(ctx).uow(), ids, _corrections(set_ or []) or None, note=note)
    for outcome in report.outcomes:
        if outcome.released:
            console.print(f"#{outcome.id} released")
            continue
        console.print(f"#{outcome.id} still quarantined:", markup=False)
        for reason in outcome.reasons:
            console.print(f"  - {reason}", markup=False, soft_wrap=True)
    if report.still_quarantined:
        raise typer.Exit(code=1)


@sentiment_app.command("score")
@clear_errors
def score(
    ctx: typer.Context,
    scorer: ScorerOption = "lm",
    finbert_model: Annotated[
        Path | None,
        typer.Option(
            "--finbert-model",
            envvar="STOCKER_FINBERT_MODEL",
            help="Local FinBERT model directory (never downloaded); for --scorer finbert.",
        ),
    ] = None,
    aggregate: Annotated[
        bool,
        typer.Option("--aggregate/--no-aggregate", help="Then aggregate into market_sentiment."),
    ] = True,
    calendar: Annotated[
        str, typer.Option("--calendar", help="Calendar of the market-wide series.")
    ] = "XNYS",
    as_json: JsonOption = False,
) -> None:
    """Score unscored articles with one scorer, then aggregate per symbol and session."""
    from stocker.data.news import aggregate_news_sentiment, score_news
    from stocker.data.news_scoring import make_scorer

    application = app_of(ctx)
    with spinner() as progress:
        task = progress.add_task(f"loading the {scorer} scorer…", total=None)
        chosen = make_scorer(scorer, finbert_model=finbert_model)
        progress.update(task, description=f"scoring with {chosen.name}…")
        scored = score_news(
            application.uow(),
            chosen,
            progress=lambda done: progress.update(
                task, description=f"scoring with {chosen.name}… {done:,} articles scored"
            ),
        )
        aggregated = None
        if aggregate:
            progress.update(task, description="aggregating per session…")
            aggregated = aggregate_news_sentiment(
                application.uow(), chosen.name, market_calendar=calendar.upper()
            )
    payload: dict[str, Any] = {
        "scorer": scored.scorer,
        "version": scored.version,
        "scored": scored.scored,
        "articles_per_second": round(scored.per_second, 1),
    }
    if aggregated is not None:
        payload["aggregate"] = {
            "source": aggregated.source,
            "articles": aggregated.articles,
            "rows": aggregated.rows,
            "inserted": aggregated.inserted,
            "updated": aggregated.updated,
            "unchanged": aggregated.unchanged,
            "first": str(aggregated.first) if aggregated.first else None,
            "last": str(aggregated.last) if aggregated.last else None,
            "warnings": aggregated.warnings,
        }
    if as_json:
        console.print_json(json.dumps(payload))
        return
    console.print(f"scorer {scored.scorer} ({scored.version}): {scored.scored} new scores")
    if aggregated is not None:
        console.print(
            counts_table(
                f"market_sentiment ({aggregated.source})",
                {
                    "articles": aggregated.articles,
                    "daily rows": aggregated.rows,
                    "inserted": aggregated.inserted,
                    "updated": aggregated.updated,
                    "unchanged": aggregated.unchanged,
                },
            )
        )
        for warning in aggregated.warnings:
            console.print(f"warning: {warning}", markup=False)


@sentiment_app.command("show")
@clear_errors
def show(
    ctx: typer.Context,
    scorer: ScorerOption = "lm",
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Also show this symbol (repeatable).")
    ] = None,
    start: StartOption = None,
    end: EndOption = None,
    as_json: JsonOption = False,
) -> None:
    """The market-wide sentiment series (and chosen symbols'), with a bar per session."""
    from stocker.data.news import sentiment_series

    application = app_of(ctx)
    symbols = [item.strip().upper() for item in symbol or [] if item.strip()]
    rows = sentiment_series(
        application.uow(), scorer, symbols=symbols, start=_day(start), end=_day(end)
    )
    if as_json:
        records = [
            {
                "symbol": row.symbol,
                "date": str(row.date),
                "source": row.source,
                "sentiment_score": row.sentiment_score,
                "sentiment_magnitude": row.sentiment_magnitude,
                "article_count": row.article_count,
            }
            for row in rows.itertuples(index=False)
        ]
        console.print_json(json.dumps(records))
        return
    if rows.empty:
        console.print(
            f"no sentiment stored for scorer {scorer}: run `stocker sentiment ingest --file …` "
            "then `stocker sentiment score`"
        )
        return
    console.print(sentiment_table(rows, title=f"sentiment ({rows['source'].iloc[0]})"))


def sentiment_table(rows: pd.DataFrame, *, title: str) -> Table:
    """A table of sentiment rows with a text bar per score (left negative, right positive)."""
    table = Table(title=title)
    for column in ("symbol", "date", "score", "", "magnitude", "articles"):
        table.add_column(column, justify="right" if column in ("score", "magnitude") else "left")
    for record in rows.to_dict("records"):
        magnitude = record["sentiment_magnitude"]
        table.add_row(
            "(market)" if record["symbol"] is None else str(record["symbol"]),
            str(record["date"]),
            f"{float(record['sentiment_score']):+.3f}",
            score_bar(float(record["sentiment_score"])),
            "" if magnitude is None else f"{float(magnitude):.3f}",
            str(record["article_count"]),
        )
    return table


def score_bar(score: float, width: int = BAR_WIDTH) -> str:
    """A score in [-1, 1] as a bar from the middle: ``   ███|`` or ``|██   ``."""
    half = width // 2
    filled = min(half, round(abs(score) * half))
    if score < 0:
        return " " * (half - filled) + "█" * filled + "|" + " " * half
    return " " * half + "|" + "█" * filled + " " * (half - filled)
