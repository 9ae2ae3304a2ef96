"""PostgreSQL adapter: embedded server, engine, migrations, bulk writes."""
