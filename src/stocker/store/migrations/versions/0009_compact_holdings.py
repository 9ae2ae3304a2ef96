"""Backtest holdings stored when they change; daily rows derived by a view.

A 2,000-symbol, 20-year monthly run holds 10 million (day, symbol) positions, but its shares
change only at the 232 rebalances. `backtest_holding_periods` keeps one row per stretch of
sessions over which no share count changes: the sessions (`dates`), the names held (as
positions in the run's `backtest_symbols`, which carries the symbol foreign key and the
sector), their shares, and their end-of-day weights as a names × sessions array.
`backtest_holdings` becomes a view with the SigmaQLab 11.7.2 columns (plus `sector`), one row
per session and name held, so the 11.11 queries run unchanged. `backtest_dates` lists every
session of any stored run: the view starts from it, so `WHERE date = d` looks up one date, the
period covering it, and one column of its weights. Rows inserted into the view by hand are
added to a one-day period of their run and date (an INSTEAD OF trigger).

Trades likewise: one `backtest_trade_sets` row per run and rebalance with the names traded and
their deltas, values and costs as arrays; `backtest_trades` is the view of its 11.7.6 rows.

Sector exposures too: one `backtest_sector_periods` row per holding period with the sectors held
and their daily weights (sectors × sessions); `backtest_sector_exposures` is the view.

`data_changes` gets one row per statement that writes `prices_daily` (a statement trigger): the
panel cache keys its files by that log's count and last id, which any committed ingest changes,
instead of scanning the selected rows' versions on every read.

Revision ID: 0009_compact_holdings
Revises: 0008_news
Create Date: 2026-11-28
"""

from alembic import op

revision = "0009_compact_holdings"
down_revision = "0008_news"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE data_changes (
    id         BIGSERIAL PRIMARY KEY,
    table_name VARCHAR(63) NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE data_changes IS
    'One row per statement that wrote a logged table: what research caches are keyed by.';
CREATE INDEX ix_data_changes_table_name ON data_changes (table_name, id);
CREATE FUNCTION data_changes_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_changes (table_name) VALUES (TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER prices_daily_data_changes
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON prices_daily
    FOR EACH STATEMENT EXECUTE FUNCTION data_changes_record();

CREATE TABLE backtest_symbols (
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL CONSTRAINT ck_backtest_symbols_position CHECK (position >= 1),
    symbol      VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    sector      VARCHAR(100),
    PRIMARY KEY (backtest_id, position),
    CONSTRAINT uq_backtest_symbols_symbol UNIQUE (backtest_id, symbol)
);
COMMENT ON TABLE backtest_symbols IS
    'Every symbol a backtest held, numbered for the arrays of backtest_holding_periods.';
COMMENT ON COLUMN backtest_symbols.sector IS
    'Sector of the symbol during the run (the 11.11 analytics query groups by it).';

CREATE TABLE backtest_holding_periods (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    valid_from  DATE NOT NULL,
    valid_to    DATE NOT NULL,
    dates       DATE[] NOT NULL,
    positions   INTEGER[] NOT NULL,
    shares      DOUBLE PRECISION[] NOT NULL,
    weights     DOUBLE PRECISION[] NOT NULL,
    CONSTRAINT uq_backtest_holding_periods UNIQUE (backtest_id, valid_from),
    CONSTRAINT ck_backtest_holding_periods_days CHECK (valid_to >= valid_from),
    CONSTRAINT ck_backtest_holding_periods_dates CHECK (
        dates[1] = valid_from AND dates[cardinality(dates)] = valid_to),
    CONSTRAINT ck_backtest_holding_periods_names
        CHECK (cardinality(positions) = cardinality(shares)),
    CONSTRAINT ck_backtest_holding_periods_weights
        CHECK (cardinality(weights) = cardinality(positions) * cardinality(dates))
);
COMMENT ON TABLE backtest_holding_periods IS
    'Backtest holdings while no share count changes; the backtest_holdings view gives daily rows.';
COMMENT ON COLUMN backtest_holding_periods.positions IS
    'backtest_symbols.position of each name held in the period.';
COMMENT ON COLUMN backtest_holding_periods.weights IS
    'End-of-day weights, names x sessions: weights[k][j] is name k on dates[j].';
ALTER TABLE backtest_holding_periods
    ALTER COLUMN dates SET STORAGE EXTERNAL,
    ALTER COLUMN positions SET STORAGE EXTERNAL,
    ALTER COLUMN shares SET STORAGE EXTERNAL,
    ALTER COLUMN weights SET STORAGE EXTERNAL;
CREATE INDEX ix_backtest_holding_periods_days
    ON backtest_holding_periods (valid_to, valid_from);

CREATE TABLE backtest_dates (date DATE PRIMARY KEY);
COMMENT ON TABLE backtest_dates IS
    'Every session of a stored backtest: the days the backtest_holdings view can return.';

CREATE FUNCTION backtest_symbol_position(run BIGINT, wanted VARCHAR, wanted_sector VARCHAR)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    found_position INTEGER;
BEGIN
    SELECT position INTO found_position FROM backtest_symbols
     WHERE backtest_id = run AND symbol = wanted;
    IF found_position IS NULL THEN
        SELECT COALESCE(MAX(position), 0) + 1 INTO found_position FROM backtest_symbols
         WHERE backtest_id = run;
        INSERT INTO backtest_symbols (backtest_id, position, symbol, sector)
        VALUES (run, found_position, wanted, wanted_sector);
    END IF;
    RETURN found_position;
END
$$;

CREATE FUNCTION backtest_holdings_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_position INTEGER;
    period backtest_holding_periods%ROWTYPE;
BEGIN
    INSERT INTO backtest_dates (date) VALUES (NEW.date) ON CONFLICT DO NOTHING;
    found_position := backtest_symbol_position(NEW.backtest_id, NEW.symbol, NEW.sector);
    SELECT * INTO period FROM backtest_holding_periods
     WHERE backtest_id = NEW.backtest_id AND valid_from <= NEW.date AND valid_to >= NEW.date
     FOR UPDATE;
    IF period.id IS NULL THEN
        INSERT INTO backtest_holding_periods (backtest_id, valid_from, valid_to, dates,
                                              positions, shares, weights)
        VALUES (NEW.backtest_id, NEW.date, NEW.date, ARRAY[NEW.date], ARRAY[found_position],
                ARRAY[NEW.shares], ARRAY[[NEW.weight]]);
    ELSIF period.valid_from <> period.valid_to THEN
        RAISE EXCEPTION 'backtest_holdings: run % already has holdings over % to %; '
            'a stored run is not edited day by day', NEW.backtest_id, period.valid_from,
            period.valid_to USING ERRCODE = 'unique_violation';
    ELSIF found_position = ANY(period.positions) THEN
        RAISE EXCEPTION 'backtest_holdings: run % already holds % on %', NEW.backtest_id,
            NEW.symbol, NEW.date USING ERRCODE = 'unique_violation';
    ELSE
        UPDATE backtest_holding_periods
           SET positions = positions || found_position,
               shares = shares || NEW.shares,
               weights = weights || ARRAY[[NEW.weight]]
         WHERE id = period.id;
    END IF;
    RETURN NEW;
END
$$;

INSERT INTO backtest_dates (date) SELECT DISTINCT date FROM backtest_holdings;
CREATE TABLE backtest_holdings_rows AS
SELECT backtest_id, date, symbol, shares, weight, sector FROM backtest_holdings;
DROP TABLE backtest_holdings;

CREATE VIEW backtest_holdings AS
SELECT (p.id * 10000 + j.n) * 100000 + h.k AS id,
       p.backtest_id,
       d.date,
       s.symbol,
       h.shares,
       h.weight,
       s.sector
FROM backtest_dates d
JOIN backtest_holding_periods p ON d.date >= p.valid_from AND d.date <= p.valid_to
CROSS JOIN LATERAL (SELECT array_position(p.dates, d.date) AS n) j
CROSS JOIN LATERAL unnest(p.positions, p.shares, p.weights[:][j.n:j.n])
    WITH ORDINALITY AS h(position, shares, weight, k)
JOIN backtest_symbols s ON s.backtest_id = p.backtest_id AND s.position = h.position
WHERE j.n IS NOT NULL;
COMMENT ON VIEW backtest_holdings IS
    'Shares and weight per backtest day and symbol (SigmaQLab 11.7.2), from holding periods.';
CREATE TRIGGER backtest_holdings_insert INSTEAD OF INSERT ON backtest_holdings
    FOR EACH ROW EXECUTE FUNCTION backtest_holdings_insert();

INSERT INTO backtest_holdings (backtest_id, date, symbol, shares, weight, sector)
SELECT backtest_id, date, symbol, shares, weight, sector FROM backtest_holdings_rows
ORDER BY backtest_id, date, symbol;
DROP TABLE backtest_holdings_rows;

CREATE TABLE backtest_trade_sets (
    id               BIGSERIAL PRIMARY KEY,
    backtest_id      BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    rebalance_date   DATE NOT NULL,
    positions        INTEGER[] NOT NULL,
    shares_delta     DOUBLE PRECISION[] NOT NULL,
    trade_value      DOUBLE PRECISION[] NOT NULL,
    transaction_cost DOUBLE PRECISION[] NOT NULL,
    CONSTRAINT uq_backtest_trade_sets UNIQUE (backtest_id, rebalance_date),
    CONSTRAINT ck_backtest_trade_sets_names CHECK (
        cardinality(shares_delta) = cardinality(positions)
        AND cardinality(trade_value) = cardinality(positions)
        AND cardinality(transaction_cost) = cardinality(positions)),
    CONSTRAINT ck_backtest_trade_sets_transaction_cost CHECK (0 <= ALL (transaction_cost))
);
COMMENT ON TABLE backtest_trade_sets IS
    'Trades of one backtest rebalance as arrays; the backtest_trades view gives one row each.';
ALTER TABLE backtest_trade_sets
    ALTER COLUMN positions SET STORAGE EXTERNAL,
    ALTER COLUMN shares_delta SET STORAGE EXTERNAL,
    ALTER COLUMN trade_value SET STORAGE EXTERNAL,
    ALTER COLUMN transaction_cost SET STORAGE EXTERNAL;

CREATE FUNCTION backtest_trades_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_position INTEGER;
    trade_set backtest_trade_sets%ROWTYPE;
BEGIN
    found_position := backtest_symbol_position(NEW.backtest_id, NEW.symbol, NULL);
    SELECT * INTO trade_set FROM backtest_trade_sets
     WHERE backtest_id = NEW.backtest_id AND rebalance_date = NEW.rebalance_date FOR UPDATE;
    IF trade_set.id IS NULL THEN
        INSERT INTO backtest_trade_sets (backtest_id, rebalance_date, positions, shares_delta,
                                         trade_value, transaction_cost)
        VALUES (NEW.backtest_id, NEW.rebalance_date, ARRAY[found_position],
                ARRAY[NEW.shares_delta], ARRAY[NEW.trade_value],
                ARRAY[COALESCE(NEW.transaction_cost, 0)]);
    ELSIF found_position = ANY(trade_set.positions) THEN
        RAISE EXCEPTION 'backtest_trades: run % already trades % on %', NEW.backtest_id,
            NEW.symbol, NEW.rebalance_date USING ERRCODE = 'unique_violation';
    ELSE
        UPDATE backtest_trade_sets
           SET positions = positions || found_position,
               shares_delta = shares_delta || NEW.shares_delta,
               trade_value = trade_value || CAST(NEW.trade_value AS DOUBLE PRECISION),
               transaction_cost = transaction_cost
                   || CAST(COALESCE(NEW.transaction_cost, 0) AS DOUBLE PRECISION)
         WHERE id = trade_set.id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE backtest_trades_rows AS
SELECT backtest_id, rebalance_date, symbol, shares_delta, trade_value, transaction_cost
FROM backtest_trades;
DROP TABLE backtest_trades;
CREATE VIEW backtest_trades AS
SELECT t.id * 100000 + h.k AS id,
       t.backtest_id,
       t.rebalance_date,
       s.symbol,
       h.shares_delta,
       CAST(h.trade_value AS NUMERIC(18, 4)) AS trade_value,
       CAST(h.transaction_cost AS NUMERIC(18, 4)) AS transaction_cost
FROM backtest_trade_sets t
CROSS JOIN LATERAL unnest(t.positions, t.shares_delta, t.trade_value, t.transaction_cost)
    WITH ORDINALITY AS h(position, shares_delta, trade_value, transaction_cost, k)
JOIN backtest_symbols s ON s.backtest_id = t.backtest_id AND s.position = h.position;
COMMENT ON VIEW backtest_trades IS
    'Trades executed at each rebalance of a backtest (SigmaQLab 11.7.6), from trade sets.';
CREATE TRIGGER backtest_trades_insert INSTEAD OF INSERT ON backtest_trades
    FOR EACH ROW EXECUTE FUNCTION backtest_trades_insert();
INSERT INTO backtest_trades (backtest_id, rebalance_date, symbol, shares_delta, trade_value,
                             transaction_cost)
SELECT backtest_id, rebalance_date, symbol, shares_delta, trade_value, transaction_cost
FROM backtest_trades_rows ORDER BY backtest_id, rebalance_date, symbol;
DROP TABLE backtest_trades_rows;
CREATE TABLE backtest_sector_periods (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    valid_from  DATE NOT NULL,
    valid_to    DATE NOT NULL,
    dates       DATE[] NOT NULL,
    sectors     VARCHAR(100)[] NOT NULL,
    weights     DOUBLE PRECISION[] NOT NULL,
    CONSTRAINT uq_backtest_sector_periods UNIQUE (backtest_id, valid_from),
    CONSTRAINT ck_backtest_sector_periods_days CHECK (valid_to >= valid_from),
    CONSTRAINT ck_backtest_sector_periods_dates CHECK (
        dates[1] = valid_from AND dates[cardinality(dates)] = valid_to),
    CONSTRAINT ck_backtest_sector_periods_weights
        CHECK (cardinality(weights) = cardinality(sectors) * cardinality(dates))
);
COMMENT ON TABLE backtest_sector_periods IS
    'Backtest sector weights per holding period (sectors x sessions); see the view.';
CREATE INDEX ix_backtest_sector_periods_days ON backtest_sector_periods (valid_to, valid_from);

CREATE FUNCTION backtest_sector_exposures_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    period backtest_sector_periods%ROWTYPE;
BEGIN
    INSERT INTO backtest_dates (date) VALUES (NEW.date) ON CONFLICT DO NOTHING;
    SELECT * INTO period FROM backtest_sector_periods
     WHERE backtest_id = NEW.backtest_id AND valid_from <= NEW.date AND valid_to >= NEW.date
     FOR UPDATE;
    IF period.id IS NULL THEN
        INSERT INTO backtest_sector_periods (backtest_id, valid_from, valid_to, dates, sectors,
                                             weights)
        VALUES (NEW.backtest_id, NEW.date, NEW.date, ARRAY[NEW.date], ARRAY[NEW.sector],
                ARRAY[[NEW.weight]]);
    ELSIF period.valid_from <> period.valid_to THEN
        RAISE EXCEPTION 'backtest_sector_exposures: run % already has exposures over % to %; '
            'a stored run is not edited day by day', NEW.backtest_id, period.valid_from,
            period.valid_to USING ERRCODE = 'unique_violation';
    ELSIF NEW.sector = ANY(period.sectors) THEN
        RAISE EXCEPTION 'backtest_sector_exposures: run % already has % on %', NEW.backtest_id,
            NEW.sector, NEW.date USING ERRCODE = 'unique_violation';
    ELSE
        UPDATE backtest_sector_periods
           SET sectors = sectors || CAST(NEW.sector AS VARCHAR(100)),
               weights = weights || ARRAY[[NEW.weight]]
         WHERE id = period.id;
    END IF;
    RETURN NEW;
END
$$;

INSERT INTO backtest_dates (date) SELECT DISTINCT date FROM backtest_sector_exposures
ON CONFLICT DO NOTHING;
CREATE TABLE backtest_sector_rows AS
SELECT backtest_id, date, sector, weight FROM backtest_sector_exposures;
DROP TABLE backtest_sector_exposures;
CREATE VIEW backtest_sector_exposures AS
SELECT (p.id * 10000 + j.n) * 1000 + h.k AS id,
       p.backtest_id,
       d.date,
       CAST(h.sector AS VARCHAR(100)) AS sector,
       h.weight
FROM backtest_dates d
JOIN backtest_sector_periods p ON d.date >= p.valid_from AND d.date <= p.valid_to
CROSS JOIN LATERAL (SELECT array_position(p.dates, d.date) AS n) j
CROSS JOIN LATERAL unnest(p.sectors, p.weights[:][j.n:j.n])
    WITH ORDINALITY AS h(sector, weight, k)
WHERE j.n IS NOT NULL;
COMMENT ON VIEW backtest_sector_exposures IS
    'Sector weights per backtest day (SigmaQLab 11.7.5), from sector periods.';
CREATE TRIGGER backtest_sector_exposures_insert INSTEAD OF INSERT ON backtest_sector_exposures
    FOR EACH ROW EXECUTE FUNCTION backtest_sector_exposures_insert();
INSERT INTO backtest_sector_exposures (backtest_id, date, sector, weight)
SELECT backtest_id, date, sector, weight FROM backtest_sector_rows
ORDER BY backtest_id, date, sector;
DROP TABLE backtest_sector_rows;
"""

DOWNGRADE = """
CREATE TABLE backtest_sector_rows AS SELECT backtest_id, date, sector, weight
FROM backtest_sector_exposures;
DROP VIEW backtest_sector_exposures;
DROP FUNCTION backtest_sector_exposures_insert();
CREATE TABLE backtest_sector_exposures (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    date        DATE NOT NULL,
    sector      VARCHAR(100) NOT NULL,
    weight      DOUBLE PRECISION NOT NULL,
    UNIQUE (backtest_id, date, sector)
);
COMMENT ON TABLE backtest_sector_exposures IS 'Sector weights per backtest day.';
INSERT INTO backtest_sector_exposures (backtest_id, date, sector, weight)
SELECT backtest_id, date, sector, weight FROM backtest_sector_rows
ORDER BY backtest_id, date, sector;
DROP TABLE backtest_sector_rows;
DROP TABLE backtest_sector_periods;
CREATE TABLE backtest_trades_rows AS SELECT backtest_id, rebalance_date, symbol, shares_delta,
    trade_value, transaction_cost FROM backtest_trades;
DROP VIEW backtest_trades;
DROP FUNCTION backtest_trades_insert();
CREATE TABLE backtest_trades (
    id               BIGSERIAL PRIMARY KEY,
    backtest_id      BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    rebalance_date   DATE NOT NULL,
    symbol           VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    shares_delta     DOUBLE PRECISION NOT NULL,
    trade_value      NUMERIC(18, 4) NOT NULL,
    transaction_cost NUMERIC(18, 4) NOT NULL DEFAULT 0
                     CONSTRAINT ck_backtest_trades_transaction_cost CHECK (transaction_cost >= 0),
    UNIQUE (backtest_id, rebalance_date, symbol)
);
COMMENT ON TABLE backtest_trades IS 'Trades executed at each rebalance of a backtest.';
COMMENT ON COLUMN backtest_trades.trade_value IS 'Signed value traded (positive = bought).';
INSERT INTO backtest_trades (backtest_id, rebalance_date, symbol, shares_delta, trade_value,
                             transaction_cost)
SELECT backtest_id, rebalance_date, symbol, shares_delta, trade_value, transaction_cost
FROM backtest_trades_rows ORDER BY backtest_id, rebalance_date, symbol;
DROP TABLE backtest_trades_rows;
DROP TABLE backtest_trade_sets;

CREATE TABLE backtest_holdings_rows AS SELECT backtest_id, date, symbol, shares, weight, sector
FROM backtest_holdings;
DROP VIEW backtest_holdings;
DROP FUNCTION backtest_holdings_insert();

CREATE TABLE backtest_holdings (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    date        DATE NOT NULL,
    symbol      VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    shares      DOUBLE PRECISION NOT NULL,
    weight      DOUBLE PRECISION NOT NULL,
    sector      VARCHAR(100),
    UNIQUE (backtest_id, date, symbol)
);
COMMENT ON TABLE backtest_holdings IS 'Shares and weight per backtest day and symbol.';
COMMENT ON COLUMN backtest_holdings.sector IS
    'Sector of the symbol on that date, so sector sums need no join (11.11 analytics query).';
INSERT INTO backtest_holdings (backtest_id, date, symbol, shares, weight, sector)
SELECT backtest_id, date, symbol, shares, weight, sector FROM backtest_holdings_rows
ORDER BY backtest_id, date, symbol;
DROP TABLE backtest_holdings_rows;
DROP TABLE backtest_holding_periods;
DROP TABLE backtest_symbols;
DROP FUNCTION backtest_symbol_position(BIGINT, VARCHAR, VARCHAR);
DROP TABLE backtest_dates;
DROP TRIGGER prices_daily_data_changes ON prices_daily;
DROP FUNCTION data_changes_record();
DROP TABLE data_changes;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
