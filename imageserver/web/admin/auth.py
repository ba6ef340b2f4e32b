"""Dashboard access: a login page that sets a signed session cookie, or a bearer key; CSRF
tokens on every state-changing form."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

STATIC = Path(__file__).parent / "static"


def setup(app: web.Application, prefix: str) -> None:
    """(skeleton: the auth helper writes it)"""


def page(handler: Handler) -> Handler:
    return handler


def action(handler: Handler) -> Handler:
    return handler


async def login_page(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def login(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError


async def logout(request: web.Request) -> web.StreamResponse:
    raise NotImplementedError
