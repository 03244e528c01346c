"""A route family: one API dialect (AILabTools, remove.bg, ...). It parses its own requests,
calls the one request flow (service.py) and renders its own successes and errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import HumancutError


@dataclass(frozen=True)
class Family:
    name: str
    router: APIRouter
    prefixes: tuple[str, ...]  # the paths it owns: errors there are rendered by it
    render_error: Callable[[Request, HumancutError], Response]

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefixes)
