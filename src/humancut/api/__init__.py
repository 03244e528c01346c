"""The AILabTools-compatible HTTP API."""

from .app import ROUTE, create_app

__all__ = ["ROUTE", "create_app"]
