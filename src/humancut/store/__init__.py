"""Stores behind small base classes: API keys and temporary results (SQLite + files today)."""

from .keys import ApiKey, KeyStore, SQLiteKeyStore
from .results import FileResultStore, Result, ResultStore

__all__ = ["ApiKey", "FileResultStore", "KeyStore", "Result", "ResultStore", "SQLiteKeyStore"]
