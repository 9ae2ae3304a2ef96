"""Pure domain types and numerics: no database, Redis, HTTP, vendor or clock imports."""
