"""CSV and Parquet files as a source for any of the market-data tables (`FileSource`).

`layouts` says what a file must and may hold per table; `source` reads a file against it.
Decoding bytes into text is shared with other file-reading sources (`stocker.sources.decoding`).
"""

from stocker.sources.files.source import FileSource

__all__ = ["FileSource"]
