"""News articles and their scores, one row per article and scorer version.

- `news_articles`: one row per article, keyed by `article_key` (the vendor's id, e.g.
  ``alpaca:24843171``, or ``url:<sha256 of the url>`` for files), with the text that is scored,
  its symbols, when it was published, `content_hash` (of the fields kept, to tell a re-sent copy
  from an edited one) and `source_hash` (of the raw payload it came in). Stored once: a second
  copy of the same key changes nothing.
- `news_scores`: one row per (article, scorer, scorer_version). Rows are never updated: a
  rescoring with another scorer or version is a new row, so earlier scores stay reproducible.
  A trigger refuses UPDATE.

Revision ID: 0008_news
Revises: 0007_live_trading
Create Date: 2026-11-28
"""

from alembic import op

revision = "0008_news"
down_revision = "0007_live_trading"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE news_articles (
    id           BIGSERIAL PRIMARY KEY,
    article_key  VARCHAR(100) NOT NULL UNIQUE,
    vendor       VARCHAR(50) NOT NULL,
    vendor_id    VARCHAR(100),
    published_at TIMESTAMPTZ NOT NULL,
    headline     TEXT NOT NULL CONSTRAINT ck_news_articles_headline CHECK (btrim(headline) <> ''),
    summary      TEXT NOT NULL DEFAULT '',
    symbols      VARCHAR(20)[] NOT NULL DEFAULT '{}',
    publisher    VARCHAR(100),
    url          TEXT,
    content_hash CHAR(64) NOT NULL,
    source_hash  CHAR(64) NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE news_articles IS
    'News articles, stored once per article_key (vendor id or url hash); never updated.';
CREATE INDEX ix_news_articles_published_at ON news_articles (published_at);
CREATE INDEX ix_news_articles_symbols ON news_articles USING GIN (symbols);

CREATE TABLE news_scores (
    id             BIGSERIAL PRIMARY KEY,
    article_id     BIGINT NOT NULL REFERENCES news_articles (id) ON DELETE CASCADE,
    scorer         VARCHAR(50) NOT NULL,
    scorer_version VARCHAR(100) NOT NULL,
    score          DOUBLE PRECISION NOT NULL
                   CONSTRAINT ck_news_scores_score CHECK (score BETWEEN -1 AND 1),
    positive       INTEGER CONSTRAINT ck_news_scores_positive CHECK (positive >= 0),
    negative       INTEGER CONSTRAINT ck_news_scores_negative CHECK (negative >= 0),
    details        JSONB NOT NULL DEFAULT '{}'::jsonb,
    scored_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (article_id, scorer, scorer_version)
);
COMMENT ON TABLE news_scores IS
    'One score per article, scorer and scorer version; a rescoring is a new row.';
CREATE INDEX ix_news_scores_scorer ON news_scores (scorer, scorer_version);

CREATE FUNCTION news_scores_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'news_scores rows are never updated; score again under a new version';
END;
$$;
CREATE TRIGGER tr_news_scores_append_only BEFORE UPDATE ON news_scores
    FOR EACH ROW EXECUTE FUNCTION news_scores_append_only();
"""

DOWNGRADE = """
DROP TABLE IF EXISTS news_scores;
DROP FUNCTION IF EXISTS news_scores_append_only();
DROP TABLE IF EXISTS news_articles;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
