"""The double-entry ledger: records, posting rules, and the state derived from the journal.

Pure: no database, no clock. `stocker.trading.ledger` reads the journal through the unit of
work, calls these rules, and writes what they return.
"""

from stocker.core.ledger.posting import (
    fill_entry_id,
    post_contribution,
    post_dividend,
    post_fill,
    post_split,
    reverse_entry,
)
from stocker.core.ledger.records import (
    CASH,
    COMMISSIONS,
    CONTRIBUTIONS,
    DIVIDENDS,
    KINDS,
    POSITIONS,
    REALIZED_PNL,
    Entry,
    Fill,
    Position,
    Posting,
    currency_totals,
    entry_problems,
    money,
    position_account,
)
from stocker.core.ledger.state import (
    Holding,
    PortfolioState,
    Totals,
    derive_state,
    derive_states,
    state_of,
    state_update,
    totals,
)

__all__ = [
    "CASH",
    "COMMISSIONS",
    "CONTRIBUTIONS",
    "DIVIDENDS",
    "KINDS",
    "POSITIONS",
    "REALIZED_PNL",
    "Entry",
    "Fill",
    "Holding",
    "PortfolioState",
    "Position",
    "Posting",
    "Totals",
    "currency_totals",
    "derive_state",
    "derive_states",
    "entry_problems",
    "fill_entry_id",
    "money",
    "position_account",
    "post_contribution",
    "post_dividend",
    "post_fill",
    "post_split",
    "reverse_entry",
    "state_of",
    "state_update",
    "totals",
]
