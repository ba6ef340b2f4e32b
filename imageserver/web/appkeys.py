"""Typed keys into the aiohttp app (one module, so handlers and middleware share them)."""

from aiohttp import web

from ..services import Services

SERVICES = web.AppKey("services", Services)
