"""Tests of the storage layer (tables, migrations, queries) on SQLite and PostgreSQL."""
