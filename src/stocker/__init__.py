"""Stocker: a self-hosted quantitative equity platform."""

__version__ = "0.1.0"
