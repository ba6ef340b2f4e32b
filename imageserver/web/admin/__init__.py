"""The admin dashboard: server-rendered pages over the same services as the JSON API.

Jobs, groups, instances, images and metrics, for operators (docs/admin.md). Behind the
API keys: a login page sets a signed session cookie (auth.py), or `Authorization: Bearer` for API
use; every state-changing form carries a CSRF token. Reading works without JavaScript.
"""

from __future__ import annotations

from .routes import add_admin_routes

__all__ = ["add_admin_routes"]
