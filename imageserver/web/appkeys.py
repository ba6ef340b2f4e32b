"""Typed keys into the aiohttp app (one module, so handlers and middleware share them)."""

from aiohttp import web

from ..jobs import Jobs
from ..jwtauth import JwtKeys
from ..services import Services
from .siblings import Siblings

SERVICES = web.AppKey("services", Services)
JOBS = web.AppKey("jobs", Jobs)
SIBLINGS = web.AppKey("siblings", Siblings)  # only with serve --processes N > 1
GATEWAY_JWT = web.AppKey("gateway_jwt", JwtKeys)  # only with a gateway_jwt_* key set
