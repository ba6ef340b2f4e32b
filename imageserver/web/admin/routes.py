"""The dashboard's routes under --admin-prefix, in one place (web/routes.py calls this).

Every page and action is wrapped by auth.py: pages need a session (or a bearer key), actions
(POST) also a CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from . import auth, groups, images, instances, jobs, metrics


def add_admin_routes(app: web.Application, prefix: str) -> None:
    """No routes when the prefix is empty (--admin-prefix '')."""
    if not prefix:
        return
    p = prefix.rstrip("/")
    auth.setup(app, p)
    app.router.add_get(p + "/login", auth.login_page)
    app.router.add_post(p + "/login", auth.login)
    app.router.add_post(p + "/logout", auth.action(auth.logout))
    app.router.add_get(p, auth.page(jobs.overview))
    app.router.add_get(p + "/jobs", auth.page(jobs.listing))
    app.router.add_get(p + "/jobs/{id}", auth.page(jobs.detail))
    app.router.add_post(p + "/jobs/{id}/{action}", auth.action(jobs.act))
    app.router.add_get(p + "/counts.json", auth.page(jobs.counts))
    app.router.add_get(p + "/groups", auth.page(groups.page))
    app.router.add_get(p + "/instances", auth.page(instances.page))
    app.router.add_get(p + "/images", auth.page(images.page))
    app.router.add_get(p + "/images/{namespace}/{hash}", auth.page(images.detail))
    app.router.add_post(p + "/images/{namespace}/{hash}/delete", auth.action(images.delete))
    app.router.add_get(p + "/metrics", auth.page(metrics.page))
    app.router.add_static(p + "/static", auth.STATIC, append_version=True)
