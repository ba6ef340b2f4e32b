"""The admin dashboard over HTTP: login and session cookie, bearer keys, CSRF, the jobs pages
and their actions, on a real server with workers (the browser tests are in tests/browser)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from html import escape
from typing import Any

import aiohttp
import pytest

from imageserver.errors import BadRequest
from imageserver.jobs.views import State
from imageserver.web.admin.auth import (
    SECURITY_HEADERS,
    cross_site,
    safe_next,
    session_valid,
    session_value,
)
from imageserver.web.admin.jobs import PAGE_SIZE, Filters, parse_filters
from tests.conftest import Server, ServerFactory
from tests.jobs import conftest as jobs
from tests.jobs.conftest import Origin, finished, job, running, submit

KEY = "k-admin-test"
BEARER = {"Authorization": f"Bearer {KEY}"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ROWS = re.compile(r'<tr class="state-(\w+)">')

# the jobs fixtures these tests use, registered here by name (as tests/seeds/conftest.py does)
origin = jobs.origin
start_jobs_server = jobs.start_jobs_server
jobs_url, redis_server, redis_url = jobs.jobs_url, jobs.redis_server, jobs.redis_url


class Browser:
    """A cookie-keeping client, as a browser is: 127.0.0.1 counts as a secure origin."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.admin = server.url + "/admin"
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=server.url)
        self.session = aiohttp.ClientSession(cookie_jar=jar)

    async def get(self, path: str, **kwargs: Any) -> tuple[aiohttp.ClientResponse, str]:
        async with self.session.get(self.admin + path, **kwargs) as resp:
            return resp, await resp.text()

    async def post(
        self, path: str, data: dict[str, str], **kwargs: Any
    ) -> tuple[aiohttp.ClientResponse, str]:
        async with self.session.post(self.admin + path, data=data, **kwargs) as resp:
            return resp, await resp.text()

    async def csrf(self, path: str = "/login") -> str:
        """The token a page's forms carry (its GET sets the csrf cookie)."""
        _, html = await self.get(path)
        return _CSRF.search(html).group(1)  # type: ignore[union-attr]

    async def log_in(self, key: str = KEY) -> tuple[aiohttp.ClientResponse, str]:
        token = await self.csrf()
        return await self.post("/login", {"csrf_token": token, "key": key, "next": "/admin"})

    async def press(self, job_id: str, action: str) -> str:
        """A job page's button: its form posted with the page's token; the page it lands on."""
        token = await self.csrf(f"/jobs/{job_id}")
        resp, html = await self.post(f"/jobs/{job_id}/{action}", {"csrf_token": token})
        assert resp.status == 200, html
        return html


@pytest.fixture
async def browsers() -> AsyncIterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for browser in made:
        await browser.session.close()


@pytest.fixture
def browser_for(browsers: list[Browser]) -> Any:
    def make(server: Server) -> Browser:
        browsers.append(Browser(server))
        return browsers[-1]

    return make


@pytest.fixture
async def keyed(start_jobs_server: ServerFactory) -> Server:
    return await start_jobs_server(api_keys=[KEY], admin_session_ttl_s=600)


# -- pure decisions ---------------------------------------------------------------------------


def test_a_session_is_signed_expires_and_ends_with_a_change_of_keys() -> None:
    now = time.time()
    value = session_value(["a", "b"], now, 60)
    assert session_valid(value, ["b", "a"], now + 59)
    assert not session_valid(value, ["a", "b"], now + 61)
    assert not session_valid(value, ["a", "c"], now)  # keys rotated: everyone logs in again
    expiry, _, signature = value.partition(".")
    assert not session_valid(f"{int(expiry) + 3600}.{signature}", ["a", "b"], now)
    for forged in ("", "nope", f"{expiry}.", f"{expiry}.é", ".abc"):
        assert not session_valid(forged, ["a", "b"], now)


def test_login_only_goes_on_to_dashboard_paths() -> None:
    assert safe_next("/admin/jobs?state=failed", "/admin") == "/admin/jobs?state=failed"
    for target in (None, "", "https://evil.example/", "//evil.example", "/adminx", "/other"):
        assert safe_next(target, "/admin") == "/admin"


def test_cross_site_posts_are_told_by_their_headers() -> None:
    host = "127.0.0.1:8080"
    assert not cross_site({}, host)
    assert not cross_site({"Origin": "http://127.0.0.1:8080"}, host)
    assert not cross_site({"Sec-Fetch-Site": "same-origin"}, host)
    assert cross_site({"Origin": "https://evil.example"}, host)
    assert cross_site({"Origin": "null"}, host)
    assert cross_site({"Sec-Fetch-Site": "cross-site"}, host)
    assert cross_site({"Sec-Fetch-Site": "same-site"}, host)


def test_filters_are_checked_and_kept_in_the_paging_links() -> None:
    query = {"state": "failed", "queue": "normal", "group": " g1 ", "kind": "", "page": "2"}
    filters = parse_filters(query, ["normal", "urgent"], ["ingest"])
    assert filters == Filters(State.FAILED, "normal", "g1", None, 2)
    assert filters.query(1) == "state=failed&queue=normal&group=g1"
    assert filters.query(3).endswith("&page=3")
    for bad in ({"state": "done"}, {"queue": "later"}, {"kind": "x"}, {"page": "0"}):
        with pytest.raises(BadRequest, match=next(iter(bad))):
            parse_filters(bad, ["normal"], ["ingest"])


# -- login, session, bearer -------------------------------------------------------------------


async def test_a_wrong_key_shows_the_form_again_with_401(keyed: Server, browser_for: Any) -> None:
    browser = browser_for(keyed)
    resp, html = await browser.log_in("wrong")
    assert resp.status == 401
    assert "not one of this server&#39;s API keys" in html
    assert '<label for="key">API key</label>' in html
    assert 'type="password"' in html
    assert "session" not in {cookie.key for cookie in browser.session.cookie_jar}


async def test_the_right_key_sets_a_secure_httponly_strict_session(
    keyed: Server, browser_for: Any
) -> None:
    browser = browser_for(keyed)
    token = await browser.csrf()
    form = {"csrf_token": token, "key": KEY, "next": "/admin/jobs?state=failed"}
    resp, _ = await browser.post("/login", form, allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/admin/jobs?state=failed")
    cookie = resp.cookies["session"]
    assert cookie["httponly"]
    assert cookie["secure"]
    assert (cookie["samesite"], cookie["path"], cookie["max-age"]) == ("Strict", "/admin", "600")
    resp, html = await browser.get("")
    assert resp.status == 200
    assert "<h1>Jobs</h1>" in html
    # logging out drops it
    resp, html = await browser.post("/logout", {"csrf_token": token})
    assert resp.url.path == "/admin/login"
    assert "Logged out." in html
    resp, _ = await browser.get("", allow_redirects=False)
    assert resp.status == 303


async def test_pages_need_a_session_or_a_bearer_key(keyed: Server, browser_for: Any) -> None:
    browser = browser_for(keyed)
    resp, _ = await browser.get("/jobs?state=failed", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/admin/login?next=%2Fadmin%2Fjobs%3Fstate%3Dfailed"
    resp, _ = await browser.get("/counts.json")
    assert (resp.status, resp.content_type) == (401, "application/json")
    resp, _ = await browser.post("/jobs/0123/retry", {}, allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/admin/login")
    resp, _ = await browser.get("", cookies={"session": f"{int(time.time()) + 99}.00"})
    assert resp.url.path == "/admin/login"
    # an API client sends its key; no cookie, no CSRF token
    async with aiohttp.ClientSession() as api:
        async with api.get(browser.admin + "/counts.json", headers=BEARER) as resp:
            assert resp.status == 200
            assert set((await resp.json())["total"]) == {s.value for s in State}
        async with api.get(browser.admin + "/jobs", headers=BEARER) as resp:
            assert resp.status == 200
            assert "Job list" in await resp.text()
            assert "session" not in resp.cookies
        async with api.post(browser.admin + "/jobs/0123/retry", headers=BEARER) as resp:
            assert resp.status == 200
            assert resp.url.path == "/admin/jobs"


async def test_no_api_keys_leave_the_dashboard_open_with_a_banner(
    start_jobs_server: ServerFactory, browser_for: Any
) -> None:
    browser = browser_for(await start_jobs_server())
    resp, html = await browser.get("")
    assert resp.status == 200
    assert "no API keys are configured" in html
    assert "Log out" not in html
    resp, _ = await browser.get("/login", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/admin")


async def test_dashboard_pages_send_the_security_headers(keyed: Server, browser_for: Any) -> None:
    browser = browser_for(keyed)
    answers = [await browser.get("/login"), await browser.get("", allow_redirects=False)]
    await browser.log_in()
    answers += [await browser.get(""), await browser.get("/jobs"), await browser.get("/jobs/no")]
    for resp, _ in answers:
        for name, value in SECURITY_HEADERS.items():
            assert resp.headers[name] == value, (resp.url, name)
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert answers[-1][0].status == 404
    assert "Not found" in answers[-1][1]
    # the layout's own files are what the policy allows
    _, html = answers[2]
    for asset in re.findall(r'(?:href|src)="(/admin/static/[^"]+)"', html):
        async with browser.session.get(keyed.url + asset) as resp:
            assert resp.status == 200


# -- CSRF -------------------------------------------------------------------------------------


async def test_forms_without_the_csrf_token_are_refused(
    keyed: Server, browser_for: Any, origin: Origin
) -> None:
    browser = browser_for(keyed)
    await browser.log_in()
    accepted = await submit(keyed, {"namespace": "p", "source": origin.image("missing")}, 401)
    assert accepted["error"] == "unauthorized"
    async with keyed.session.post(
        keyed.url + "/jobs", json={"namespace": "p", "source": origin.image()}, headers=BEARER
    ) as resp:
        job_id = (await resp.json())["job_id"]
    token = await browser.csrf(f"/jobs/{job_id}")
    path = f"/jobs/{job_id}/delete"
    for form, headers in [
        ({}, {}),
        ({"csrf_token": "wrong"}, {}),
        ({"csrf_token": token}, {"Origin": "https://evil.example"}),
        ({"csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]:
        resp, html = await browser.post(path, form, headers=headers)
        assert (resp.status, "CSRF" in html) == (403, True), (form, headers)
    # the login form is checked too
    resp, _ = await browser.post("/login", {"key": KEY})
    assert resp.status == 403
    async with browser.session.get(f"{keyed.url}/jobs/{job_id}", headers=BEARER) as resp:
        assert resp.status == 200  # still there


async def test_behind_a_proxy_the_public_origin_is_the_dashboards_own(
    start_jobs_server: ServerFactory, browser_for: Any
) -> None:
    """The proxy forwards to 127.0.0.1:PORT; the browser's Origin is the public host."""
    proxied = await start_jobs_server(api_keys=[KEY], public_url="https://img.example.com")
    browser = browser_for(proxied)
    token = await browser.csrf()
    form = {"csrf_token": token, "key": KEY, "next": "/admin"}
    resp, html = await browser.post("/login", form, headers={"Origin": proxied.url})
    assert (resp.status, "out of date" in html) == (403, True)  # not the upstream's address
    resp, html = await browser.post("/login", form, headers={"Origin": "https://img.example.com"})
    assert resp.status == 200, html


# -- the jobs pages ---------------------------------------------------------------------------


async def test_retry_a_failed_job_from_its_page(
    start_jobs_server: ServerFactory, browser_for: Any, origin: Origin
) -> None:
    server = await start_jobs_server()
    browser = browser_for(server)
    # a 404 fails the job for good; the source answers the second time
    failed = await submit(server, {"namespace": "p", "source": origin.image(fail=1, status=404)})
    assert (await finished(server, failed["job_id"]))["state"] == "failed"
    _, overview = await browser.get("")
    assert failed["job_id"] in overview
    assert "source_not_found" in overview
    _, page = await browser.get(f"/jobs/{failed['job_id']}")
    assert '<progress id="job-progress" max="100" value="0">' in page
    assert ">Retry</button>" in page
    assert ">Cancel</button>" not in page
    assert escape(origin.image(fail=1, status=404)) in page  # the request as submitted
    html = await browser.press(failed["job_id"], "retry")
    assert "Queued again" in html
    view = await finished(server, failed["job_id"])
    assert (view["state"], view["attempts"]) == ("succeeded", 1)
    _, page = await browser.get(f"/jobs/{failed['job_id']}")
    assert 'value="100"' in page
    assert ">Retry</button>" not in page
    # a second retry is refused with a message, not an error page
    html = await browser.press(failed["job_id"], "retry")
    assert "only failed jobs are retried" in html
    assert 'class="flash flash-error"' in html


async def test_cancel_a_queued_job_and_delete_a_finished_one(
    start_jobs_server: ServerFactory, browser_for: Any, origin: Origin
) -> None:
    server = await start_jobs_server(job_concurrency=1)
    browser = browser_for(server)
    blocker = await submit(server, {"namespace": "p", "source": origin.image(hold=1)})
    await running(server, blocker["job_id"])
    queued = await submit(server, {"namespace": "p", "source": origin.image()})
    _, page = await browser.get(f"/jobs/{queued['job_id']}")
    assert '<meta http-equiv="refresh" content="2">' in page  # until it ends
    assert ">Cancel</button>" in page
    html = await browser.press(queued["job_id"], "cancel")
    assert "Cancelled" in html
    assert (await job(server, queued["job_id"]))["state"] == "cancelled"
    origin.release.set()
    await finished(server, blocker["job_id"])
    token = await browser.csrf(f"/jobs/{queued['job_id']}")
    resp, html = await browser.post(f"/jobs/{queued['job_id']}/delete", {"csrf_token": token})
    assert (resp.status, resp.url.path) == (200, "/admin/jobs")
    assert f"Job {queued['job_id']} deleted." in html
    resp, html = await browser.get(f"/jobs/{queued['job_id']}")
    assert resp.status == 404
    assert "no job" in html
    async with server.session.get(f"{server.url}/jobs/{queued['job_id']}") as resp:
        assert resp.status == 404
    resp, html = await browser.post(f"/jobs/{blocker['job_id']}/explode", {"csrf_token": token})
    assert resp.status == 404
    assert "no action" in html


async def test_the_list_filters_and_pages(
    start_jobs_server: ServerFactory, browser_for: Any, origin: Origin, jobs_url: str
) -> None:
    """On both backends: Redis iterates and counts its jobs its own way."""
    server = await start_jobs_server(workers=False, jobs_url=jobs_url)  # every job stays queued
    browser = browser_for(server)
    source = origin.image()
    for _ in range(PAGE_SIZE + 3):
        await submit(server, {"namespace": "p", "source": source})
    grouped = {"namespace": "p", "source": source, "group": "g1", "group_limit": 2}
    in_group = await submit(server, {**grouped, "queue": "urgent"})
    download = await submit(server, {"kind": "download", "namespace": "p", "source": source})
    _, first = await browser.get("/jobs?queue=normal")
    assert len(_ROWS.findall(first)) == PAGE_SIZE
    assert 'href="/admin/jobs?queue=normal&amp;page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    _, second = await browser.get("/jobs?queue=normal&page=2")
    assert len(_ROWS.findall(second)) == 4  # 53 ingests and the download
    assert 'href="/admin/jobs?queue=normal" rel="prev"' in second
    assert 'rel="next"' not in second
    _, html = await browser.get("/jobs?group=g1")
    assert _ROWS.findall(html) == ["queued"]
    assert in_group["job_id"] in html
    _, html = await browser.get("/jobs?kind=download&state=queued")
    assert _ROWS.findall(html) == ["queued"]
    assert download["job_id"] in html
    assert '<option value="download" selected>' in html
    _, html = await browser.get("/jobs?state=failed")
    assert _ROWS.findall(html) == []
    assert "No job matches" in html
    resp, html = await browser.get("/jobs?state=done")
    assert resp.status == 400
    assert "state: expected one of" in html
    _, overview = await browser.get("")
    assert 'data-counts-url="/admin/counts.json"' in overview
    resp, counts = await browser.get("/counts.json")
    assert '"queued": 55' in counts
    assert '"urgent": {"queued": 1' in counts
