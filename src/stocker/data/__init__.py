"""Market-data use cases: sources, validation, corporate actions, calendars, universes."""
