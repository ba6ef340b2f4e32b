"""The HTTP edge: aiohttp app, routes, thin handlers and the middleware that shapes errors."""

from .app import create_app

__all__ = ["create_app"]
