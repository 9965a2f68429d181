"""The local database: models, engine and session setup, migrations."""

from app.core.storage.engine import open_database, session_scope, sqlite_url

__all__ = ["open_database", "session_scope", "sqlite_url"]
