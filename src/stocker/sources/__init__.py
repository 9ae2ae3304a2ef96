"""Vendor and file sources, one module each behind the `Source` protocol."""
