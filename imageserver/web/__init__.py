"""The HTTP edge: aiohttp app, routes, thin handlers and the middleware that shapes errors."""

from .app import SERVER_OPTIONS, create_app

__all__ = ["SERVER_OPTIONS", "create_app"]
