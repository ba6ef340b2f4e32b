"""Typed keys into the aiohttp app (one module, so handlers and middleware share them)."""

from aiohttp import web

from ..jobs import Jobs
from ..services import Services

SERVICES = web.AppKey("services", Services)
JOBS = web.AppKey("jobs", Jobs)
