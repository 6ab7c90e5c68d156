"""Persistence: SQLAlchemy models, the engine/session factory, Alembic migrations and repositories.

Repositories take a ``Session`` (or a ``Database`` where they manage their own transactions) and return the
plain frozen dataclasses of ``bot.storage.records``, never ORM objects.
"""
