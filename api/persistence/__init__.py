"""Persistence: SQLAlchemy 2 tables, engine set-up, Alembic upgrade and the queries the routers use."""
