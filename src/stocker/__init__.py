"""Stocker: a self-hosted quantitative equity platform.

The research functions are exported lazily, so `import stocker` loads no numpy, pandas or
cvxpy until one of them is used::

    import stocker
    weights = stocker.optimize(returns, method="hrp")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "optimize": "stocker.core.optimize",
    "backtest": "stocker.core.backtest",
    "trend_backtest": "stocker.core.backtest",
    "performance": "stocker.core.metrics",
}
__all__ = ["__version__", "backtest", "optimize", "performance", "trend_backtest"]

if TYPE_CHECKING:
    from stocker.core.backtest import backtest, trend_backtest
    from stocker.core.metrics import performance
    from stocker.core.optimize import optimize


def __getattr__(name: str) -> Any:
    """Import a research function on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stocker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
