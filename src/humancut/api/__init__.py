"""The HTTP API: `create_app(settings)`; route families in their own modules."""

from .ailab import ROUTE
from .app import FAMILIES, create_app
from .service import CutService

__all__ = ["FAMILIES", "ROUTE", "CutService", "create_app"]
