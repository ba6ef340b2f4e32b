"""Rewrites the screenshots of docs/admin.md, docs/admin-*.png, from a dashboard with a little of
everything: jobs succeeded, failed, running and queued, and a few uploads.

Not collected with the suite (it changes tracked files); run it by name:
    .venv/bin/pytest tests/browser/readme_screenshots.py -p no:cacheprovider
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import DashboardFactory
from tests.conftest import ROOT, image_bytes
from tests.jobs.conftest import Origin

DOCS = ROOT / "docs"
SIZE = {"width": 1100, "height": 720}  # the README's width at 1x: small PNGs, readable text
MAX_BYTES = 150_000


async def test_readme_screenshots(start_dashboard: DashboardFactory, origin: Origin) -> None:
    dashboard = await start_dashboard(job_concurrency=1)
    await dashboard.page.set_viewport_size(SIZE)
    for name in ("grid.jpg", "alpha.png", "grid.png"):
        await dashboard.upload(image_bytes(name), namespace="photos")
    for queue, source in (("normal", origin.image()), ("urgent", origin.image("missing"))):
        body = {"namespace": "photos", "source": source, "outputs": "w200.webp", "queue": queue}
        await dashboard.job_until(await dashboard.submit(body), finished)
    for hold in (1, 2):
        body = {
            "namespace": "photos",
            "source": origin.image(hold=hold),
            "group": "batch-7",
            "group_limit": 2,
        }
        await dashboard.submit(body)
    await dashboard.log_in()
    for page in ("jobs", "images"):
        await dashboard.open(f"/{page}")
        path = DOCS / f"admin-{page}.png"
        await dashboard.page.screenshot(path=path)
        assert path.stat().st_size < MAX_BYTES, f"{path}: {path.stat().st_size} bytes"
    origin.release.set()


def finished(view: dict[str, Any]) -> bool:
    return view["state"] in ("succeeded", "failed")
