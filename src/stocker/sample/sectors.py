"""GICS sectors of the synthetic market: what a typical company of each looks like, and names.

The profiles are means (stocks scatter around them): they set betas, volatilities, margins,
valuations, leverage and dividend habits per sector, so a synthetic cross-section looks like a
real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SectorProfile:
    """What a typical company of a GICS sector looks like (means; stocks scatter around them)."""

    weight: float  # share of symbols
    beta: float
    specific_vol_annual: float
    gross_margin: float
    ebitda_to_gross: float
    price_to_sales: float
    debt_to_equity: float
    dividend_payer_probability: float
    dividend_yield_annual: float
    industries: tuple[str, ...]


SECTORS: dict[str, SectorProfile] = {
    "Information Technology": SectorProfile(
        0.14, 1.20, 0.32, 0.58, 0.45, 5.0, 0.4, 0.45, 0.012,
        ("Software", "IT Services", "Semiconductors & Semiconductor Equipment",
         "Technology Hardware, Storage & Peripherals", "Communications Equipment",
         "Electronic Equipment, Instruments & Components"),
    ),
    "Health Care": SectorProfile(
        0.12, 0.85, 0.30, 0.60, 0.40, 3.5, 0.5, 0.50, 0.015,
        ("Pharmaceuticals", "Biotechnology", "Health Care Equipment & Supplies",
         "Health Care Providers & Services", "Life Sciences Tools & Services"),
    ),
    "Financials": SectorProfile(
        0.13, 1.10, 0.22, 0.55, 0.55, 2.5, 1.8, 0.80, 0.025,
        ("Banks", "Capital Markets", "Insurance", "Financial Services", "Consumer Finance"),
    ),
    "Industrials": SectorProfile(
        0.14, 1.05, 0.24, 0.32, 0.50, 1.8, 0.9, 0.75, 0.018,
        ("Aerospace & Defense", "Machinery", "Building Products", "Electrical Equipment",
         "Construction & Engineering", "Industrial Conglomerates", "Ground Transportation",
         "Air Freight & Logistics"),
    ),
    "Consumer Discretionary": SectorProfile(
        0.10, 1.15, 0.28, 0.38, 0.40, 1.5, 1.0, 0.55, 0.015,
        ("Specialty Retail", "Hotels, Restaurants & Leisure", "Household Durables",
         "Automobiles", "Automobile Components", "Textiles, Apparel & Luxury Goods",
         "Broadline Retail"),
    ),
    "Consumer Staples": SectorProfile(
        0.07, 0.65, 0.17, 0.36, 0.50, 1.6, 0.9, 0.90, 0.028,
        ("Beverages", "Food Products", "Household Products", "Personal Care Products",
         "Tobacco", "Consumer Staples Distribution & Retail"),
    ),
    "Energy": SectorProfile(
        0.05, 1.10, 0.30, 0.35, 0.60, 1.2, 0.6, 0.80, 0.035,
        ("Oil, Gas & Consumable Fuels", "Energy Equipment & Services"),
    ),
    "Materials": SectorProfile(
        0.05, 1.05, 0.25, 0.30, 0.55, 1.5, 0.7, 0.75, 0.022,
        ("Chemicals", "Metals & Mining", "Construction Materials", "Containers & Packaging",
         "Paper & Forest Products"),
    ),
    "Utilities": SectorProfile(
        0.06, 0.55, 0.15, 0.45, 0.75, 2.2, 1.4, 0.95, 0.035,
        ("Electric Utilities", "Multi-Utilities", "Gas Utilities", "Water Utilities",
         "Independent Power and Renewable Electricity Producers"),
    ),
    "Real Estate": SectorProfile(
        0.06, 0.90, 0.20, 0.65, 0.80, 6.0, 1.1, 0.90, 0.038,
        ("Specialized REITs", "Residential REITs", "Retail REITs", "Industrial REITs",
         "Office REITs", "Diversified REITs", "Real Estate Management & Development"),
    ),
    "Communication Services": SectorProfile(
        0.08, 1.00, 0.27, 0.55, 0.50, 3.0, 0.8, 0.45, 0.018,
        ("Interactive Media & Services", "Media", "Entertainment",
         "Diversified Telecommunication Services", "Wireless Telecommunication Services"),
    ),
}  # fmt: skip
SECTOR_NAMES: tuple[str, ...] = tuple(SECTORS)

_NAME_STEMS = (
    "Aurora", "Beacon", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Ion", "Juniper",
    "Keystone", "Lumen", "Meridian", "Northwind", "Orchid", "Pioneer", "Quarry", "Redwood",
    "Summit", "Tidewater", "Union", "Vertex", "Willow", "Zenith", "Atlas", "Bluestone", "Crescent",
    "Driftwood", "Evergreen", "Foxglove", "Highland", "Ironwood", "Lakeside", "Maple", "Oakridge",
    "Prairie", "Riverside", "Silverline", "Timber", "Westfield",
)  # fmt: skip
_NAME_SUFFIXES = ("Inc.", "Corp.", "Holdings", "Group", "Co.", "plc", "Ltd.")
_SECTOR_WORDS = {
    "Information Technology": ("Technologies", "Systems", "Semiconductor", "Software"),
    "Health Care": ("Health", "Therapeutics", "Medical", "Biosciences"),
    "Financials": ("Financial", "Bancorp", "Capital", "Insurance"),
    "Industrials": ("Industries", "Aerospace", "Machinery", "Logistics"),
    "Consumer Discretionary": ("Brands", "Retail", "Motors", "Leisure"),
    "Consumer Staples": ("Foods", "Beverages", "Household", "Provisions"),
    "Energy": ("Energy", "Petroleum", "Resources", "Oilfield"),
    "Materials": ("Materials", "Chemicals", "Mining", "Metals"),
    "Utilities": ("Power", "Electric", "Utilities", "Water"),
    "Real Estate": ("Realty", "Properties", "REIT", "Land"),
    "Communication Services": ("Media", "Communications", "Telecom", "Networks"),
}


def assign_sectors(rng: np.random.Generator, count: int) -> np.ndarray:
    """Sector index per symbol: every sector present once there are enough symbols."""
    weights = np.array([profile.weight for profile in SECTORS.values()])
    weights = weights / weights.sum()
    drawn = rng.choice(len(SECTORS), size=count, p=weights)
    guaranteed = min(count, len(SECTORS))
    drawn[:guaranteed] = rng.permutation(len(SECTORS))[:guaranteed]
    return rng.permutation(drawn)


def sector_array(sector_index: np.ndarray, attribute: str) -> np.ndarray:
    values = np.array([getattr(profile, attribute) for profile in SECTORS.values()], dtype=float)
    return values[sector_index]


def company_names(rng: np.random.Generator, sector_index: np.ndarray) -> list[str]:
    """Company-like names ("Granite Energy Corp."): obviously invented, sector-flavoured."""
    stems = rng.integers(0, len(_NAME_STEMS), size=len(sector_index))
    words = rng.integers(0, 4, size=len(sector_index))
    suffixes = rng.integers(0, len(_NAME_SUFFIXES), size=len(sector_index))
    return [
        f"{_NAME_STEMS[stem]} {_SECTOR_WORDS[SECTOR_NAMES[sector]][word]} {_NAME_SUFFIXES[suffix]}"
        for stem, sector, word, suffix in zip(stems, sector_index, words, suffixes, strict=True)
    ]
