"""dlcs composite-handler: its README's configuration (env names and values) runs our rasterize
jobs; ENGINE_WORKER_MAX_ATTEMPTS=0 retries for ever; its admin's "deleting tasks and
resubmitting failed tasks" are DELETE /jobs/{id} and POST /jobs/{id}/retry.

The seed's README shows no HTTP calls (its API is DLCS RFC011's), only its configuration table
and admin operations: those are what is replayed here, on a real server.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import pyvips

from imageserver import aliases, settings
from imageserver.formats import sniff
from imageserver.jobs.backends import CappedBackoffJob
from imageserver.retries import MAX_DELAY_S as MAX_RETRY_DELAY_S
from imageserver.retries import MAX_DOUBLINGS
from imageserver.settings import Settings, SettingsError
from tests.conftest import Server, ServerFactory
from tests.jobs.conftest import Origin, finished, submit
from tests.pdf.conftest import SCANNED

# The seed README's Configuration table: every variable, with its default (or example) value.
README_ENV = {
    "DJANGO_DEBUG": "True",
    "DJANGO_SECRET_KEY": "x" * 50,  # default None; "a randomly generated 50 character string"
    "SCRATCH_DIRECTORY": "/tmp/scratch",
    "WEB_SERVER_SCHEME": "http",
    "WEB_SERVER_HOSTNAME": "localhost:8000",
    "ORIGIN_CHUNK_SIZE": "8192",
    "DATABASE_URL": "postgresql://dlcs:password@postgres:5432/compositedb",
    "CACHE_URL": "dbcache://app_cache",
    "PDF_RASTERIZER_THREAD_COUNT": "3",
    "PDF_RASTERIZER_DPI": "500",
    "PDF_RASTERIZER_FALLBACK_DPI": "200",
    "PDF_RASTERIZER_FORMAT": "jpg",
    "PDF_RASTERIZER_MAX_LENGTH": "0",
    "DLCS_API_ROOT": "https://api.dlcs.digirati.io",
    "DLCS_S3_BUCKET_NAME": "dlcs-composite-images",
    "DLCS_S3_OBJECT_KEY_PREFIX": "composites",
    "DLCS_S3_UPLOAD_THREADS": "8",
    "ENGINE_WORKER_COUNT": "2",
    "ENGINE_WORKER_TIMEOUT": "3600",
    "ENGINE_WORKER_RETRY": "4500",
    "ENGINE_WORKER_MAX_ATTEMPTS": "0",
    "MIGRATE": "True",
    "INIT_SUPERUSER": "True",
    "GUNICORN_WORKERS": "2",
    "SQS_BROKER_QUEUE_NAME": "composite-handler",
}
# What those mean here; every other setting keeps its default (PDF_RASTERIZER_FORMAT jpg and
# PDF_RASTERIZER_MAX_LENGTH 0 map to ours; ENGINE_WORKER_RETRY, DJANGO_*, DATABASE_URL, ... are
# ignored: README "Migrating from dlcs composite-handler").
README_SETTINGS = {
    "pdf_workers": 3,
    "rasterize_dpi": 500,
    "rasterize_fallback_dpi": 200,
    "job_concurrency": 2,
    "job_timeout_s": 3600,
    "job_max_attempts": 0,
    "storage": "s3://dlcs-composite-images/composites",
}
# The server's env: the README's names, with a local store instead of the bucket (S3 storage has
# its own contract suite) and 100 DPI instead of 500, which draws each page 25x larger: seconds
# per job, for the same code path.
SERVER_ENV = {
    **{k: v for k, v in README_ENV.items() if not k.startswith("DLCS_S3_")},
    "PDF_RASTERIZER_DPI": "100",
    "PDF_RASTERIZER_FORMAT": "tiff",
}
SCANNED_POINTS = (432, 648)  # its pages' size


def changed(loaded: Settings) -> dict[str, Any]:
    """The settings that differ from the defaults."""
    defaults = dataclasses.asdict(Settings())
    return {k: v for k, v in dataclasses.asdict(loaded).items() if v != defaults[k]}


async def dlcs_server(start_jobs_server: ServerFactory, **overrides: Any) -> Server:
    return await start_jobs_server(**{**changed(settings.load(env=SERVER_ENV)), **overrides})


def test_the_readme_configuration_maps_onto_settings() -> None:
    assert changed(settings.load(env=README_ENV)) == README_SETTINGS


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PDF_RASTERIZER_FORMAT": "jpeg"}, {"rasterize_format": "jpg"}),
        ({"PDF_RASTERIZER_FORMAT": " TIFF "}, {"rasterize_format": "tiff"}),
        ({"PDF_RASTERIZER_MAX_LENGTH": "4000"}, {"rasterize_max_side": "4000"}),
        ({"DLCS_S3_OBJECT_KEY_PREFIX": "composites"}, {}),  # no bucket: the storage is ours
        ({"DLCS_S3_BUCKET_NAME": "b"}, {"storage": "s3://b/composites"}),  # the seed's prefix
        (
            {"DLCS_S3_BUCKET_NAME": "b", "DLCS_S3_OBJECT_KEY_PREFIX": "/a/b/"},
            {"storage": "s3://b/a/b"},
        ),
        ({"DLCS_S3_BUCKET_NAME": "b", "DLCS_S3_OBJECT_KEY_PREFIX": ""}, {"storage": "s3://b"}),
        ({"ENGINE_WORKER_RETRY": "4500", "SCRATCH_DIRECTORY": "/tmp/scratch"}, {}),
    ],
)
def test_seed_names(env: dict[str, str], expected: dict[str, Any]) -> None:
    assert aliases._dlcs(env) == expected


def test_our_rasterize_format_takes_jpeg_and_tiff_too() -> None:
    for given in ("jpeg", "tiff", "tif"):
        assert settings.load(env={"IMAGESERVER_RASTERIZE_FORMAT": given}).rasterize_format == given
    with pytest.raises(SettingsError, match="rasterize_format: expected one of jpg, png"):
        settings.load(env={"IMAGESERVER_RASTERIZE_FORMAT": "ppm"})


def test_our_names_win_over_the_seeds() -> None:
    env = {"PDF_RASTERIZER_DPI": "500", "IMAGESERVER_RASTERIZE_DPI": "150"}
    assert settings.load(env=env).rasterize_dpi == 150
    assert settings.load({"rasterize_dpi": "90"}, env=env).rasterize_dpi == 90


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PDF_RASTERIZER_FORMAT": "ppm"},
            "PDF_RASTERIZER_FORMAT: expected jpg, jpeg, png or tiff",
        ),
        ({"PDF_RASTERIZER_FORMAT": "webp"}, "got 'webp'"),
        ({"PDF_RASTERIZER_DPI": "high"}, "PDF_RASTERIZER_DPI: expected a whole number, got 'high'"),
        ({"ENGINE_WORKER_MAX_ATTEMPTS": "-1"}, "ENGINE_WORKER_MAX_ATTEMPTS: expected a whole"),
        # in range is for the setting it maps to, as for IMAGESERVER_* names
        ({"PDF_RASTERIZER_DPI": "0"}, "rasterize_dpi: must be > 0"),
        ({"ENGINE_WORKER_COUNT": "0"}, "job_concurrency: must be > 0"),
        ({"PDF_RASTERIZER_MAX_LENGTH": "99999"}, "rasterize_max_side: expected 0-8192"),
    ],
)
def test_unusable_values_are_named_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings.load(env=env)


def test_all_bad_seed_values_are_reported_together() -> None:
    env = {"PDF_RASTERIZER_FORMAT": "ppm", "ENGINE_WORKER_TIMEOUT": "1h"}
    with pytest.raises(SettingsError) as raised:
        settings.load(env=env)
    assert [line.split(":")[0] for line in str(raised.value).splitlines()] == [
        "ENGINE_WORKER_TIMEOUT",
        "PDF_RASTERIZER_FORMAT",
    ]


def test_retrying_for_ever_backs_off_to_a_cap_without_overflow() -> None:
    """saq's own backoff raises OverflowError at attempt 1025 (2**1024 is past a float)."""
    job = CappedBackoffJob("f", retry_delay=1.0, retry_backoff=MAX_RETRY_DELAY_S, attempts=5000)
    delays = [job.next_retry_delay() for _ in range(50)]
    assert all(0 <= d <= MAX_RETRY_DELAY_S for d in delays)
    assert max(delays) > MAX_RETRY_DELAY_S / 4  # full jitter over [0, cap], not a tiny delay
    job.attempts = 3
    assert all(job.next_retry_delay() <= 4.0 for _ in range(50))  # saq's doubling below the cap
    assert MAX_DOUBLINGS < 1024


async def page_images(server: Server, result: dict[str, Any]) -> list[pyvips.Image]:
    images = []
    for entry in result["pages"]:
        async with server.session.get(server.url + entry["url"]) as resp:
            data = await resp.read()
        found = sniff(data)
        assert found is not None
        assert found.mime == entry["content_type"]
        images.append(pyvips.Image.new_from_buffer(data, ""))
    return images


async def test_readme_env_rasterizes_tiff_pages_retrying_a_failing_source_for_ever(
    start_jobs_server: ServerFactory, origin: Origin, jobs_url: str
) -> None:
    server = await dlcs_server(start_jobs_server, jobs_url=jobs_url)
    # 4 failures: one more than our default 3 attempts; ENGINE_WORKER_MAX_ATTEMPTS=0 goes on
    body = {"namespace": "composites", "source": origin.image(SCANNED, fail=4), "rasterize": {}}
    view = await finished(server, (await submit(server, body))["job_id"], timeout_s=30)
    assert (view["state"], view["attempts"], view["max_attempts"]) == ("succeeded", 5, None)
    pages = view["result"]["pages"]
    assert [p["content_type"] for p in pages] == ["image/tiff"] * 6
    at_100_dpi = tuple(points * 100 // 72 for points in SCANNED_POINTS)
    assert {(image.width, image.height) for image in await page_images(server, view["result"])} == {
        at_100_dpi
    }
    # a TIFF page image is an original like any other: outputs render from it, tiff among them
    page = server.url + pages[0]["url"].removesuffix("/original")
    for token, mime in (("w200.jpg", "image/jpeg"), ("w100.tiff", "image/tiff")):
        async with server.session.get(f"{page}/{token}") as resp:
            assert (resp.status, resp.headers["Content-Type"]) == (200, mime)


async def test_a_jobs_format_may_be_spelt_jpeg(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await dlcs_server(start_jobs_server)
    body = {
        "namespace": "composites",
        "source": origin.image(SCANNED),
        "rasterize": {"format": "jpeg", "dpi": 50},
    }
    view = await finished(server, (await submit(server, body))["job_id"], timeout_s=30)
    assert view["state"] == "succeeded", view
    assert view["request"]["rasterize"]["format"] == "jpg"
    images = await page_images(server, view["result"])
    at_50_dpi = tuple(points * 50 // 72 for points in SCANNED_POINTS)
    assert {(image.get("vips-loader"), image.width, image.height) for image in images} == {
        ("jpegload_buffer", *at_50_dpi)
    }


async def test_admin_delete_and_resubmit_of_failed_tasks(
    start_jobs_server: ServerFactory, origin: Origin, jobs_url: str
) -> None:
    server = await dlcs_server(start_jobs_server, jobs_url=jobs_url)
    body = {"namespace": "composites", "source": origin.image("missing"), "rasterize": {}}
    job_id = (await submit(server, body))["job_id"]
    url = f"{server.url}/jobs/{job_id}"
    view = await finished(server, job_id)
    # a permanent failure (the source's 404) fails at once, even retrying for ever
    assert (view["state"], view["error"], view["attempts"]) == ("failed", "source_not_found", 1)
    async with server.session.post(f"{url}/retry") as resp:  # resubmit the failed task
        assert resp.status == 202
    view = await finished(server, job_id)
    assert (view["state"], view["attempts"]) == ("failed", 1)
    assert len([r for r in origin.requests if r.path.endswith("missing")]) == 2
    async with server.session.delete(url) as resp:  # delete the task
        assert resp.status == 200
        assert (await resp.json())["state"] == "failed"
    for method in ("GET", "DELETE"):
        async with server.session.request(method, url) as resp:
            assert resp.status == 404, method
    async with server.session.post(f"{url}/retry") as resp:
        assert resp.status == 404
    async with server.session.get(f"{server.url}/jobs", params={"state": "failed"}) as resp:
        assert (await resp.json())["jobs"] == []


async def test_delete_of_a_succeeded_job_keeps_its_images(server: Server, origin: Origin) -> None:
    job_id = (await submit(server, {"namespace": "p", "source": origin.image()}))["job_id"]
    view = await finished(server, job_id)
    async with server.session.delete(f"{server.url}/jobs/{job_id}") as resp:
        assert (resp.status, (await resp.json())["state"]) == (200, "succeeded")
    async with server.session.get(server.image_url(view["result"]["hash"]) + "/w50.jpg") as resp:
        assert resp.status == 200
