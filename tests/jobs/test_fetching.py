"""How jobs fetch and run, observed at a loopback origin: priorities, per-host and per-group
limits, per-job headers and timeout, mime rules, transient retries, permanent failures, cancel."""

from __future__ import annotations

from tests.conftest import Server, ServerFactory
from tests.jobs.conftest import Origin, finished, job, running, submit


async def test_urgent_jobs_start_before_waiting_normal_ones(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin
) -> None:
    server = await start_jobs_server(jobs_url=jobs_url, job_concurrency=1)
    blocker = await submit(server, {"namespace": "p", "source": origin.image(hold=1)})
    await running(server, blocker["job_id"])
    ids = []
    for n, queue in enumerate(["normal", "normal", "urgent", "normal", "urgent"]):
        body = {"namespace": "p", "source": origin.image(n=n, q=queue), "queue": queue}
        ids.append((await submit(server, body))["job_id"])
    origin.release.set()
    for job_id in ids:
        await finished(server, job_id)
    order = [r.query["q"] for r in origin.requests[1:]]
    assert order == ["urgent", "urgent", "normal", "normal", "normal"]


async def test_never_more_than_the_host_limit_at_the_origin(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin
) -> None:
    server = await start_jobs_server(jobs_url=jobs_url, job_concurrency=8, job_host_limit=2)
    bodies = [{"namespace": "p", "source": origin.image(delay=0.2, n=n)} for n in range(8)]
    ids = [(await submit(server, body))["job_id"] for body in bodies]
    views = [await finished(server, job_id) for job_id in ids]
    assert {view["state"] for view in views} == {"succeeded"}
    assert origin.most_active == 2


async def test_a_group_limit_holds_below_the_host_limit(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(job_concurrency=4, job_host_limit=4)
    group = {"group": "shop-42", "group_limit": 1}
    bodies = [{"namespace": "p", "source": origin.image(delay=0.1, n=n), **group} for n in range(4)]
    ids = [(await submit(server, body))["job_id"] for body in bodies]
    for job_id in ids:
        await finished(server, job_id)
    assert origin.most_active == 1


async def test_per_job_headers_reach_the_origin(server: Server, origin: Origin) -> None:
    headers = {"User-Agent": "Downloader-Agent", "Accept": "image/png,image/*"}
    answer = await submit(server, {"namespace": "p", "source": origin.image(), "headers": headers})
    await finished(server, answer["job_id"])
    seen = origin.requests[0].headers
    assert (seen["User-Agent"], seen["Accept"]) == ("Downloader-Agent", "image/png,image/*")
    view = await job(server, answer["job_id"])
    assert "headers" not in view["request"]  # they may carry the origin's credentials


async def test_transient_failures_are_retried_until_success(server: Server, origin: Origin) -> None:
    answer = await submit(server, {"namespace": "p", "source": origin.image(fail=2)})
    view = await finished(server, answer["job_id"])
    assert (view["state"], view["attempts"], view["error"]) == ("succeeded", 3, None)


async def test_transient_failures_fail_after_max_attempts(server: Server, origin: Origin) -> None:
    answer = await submit(server, {"namespace": "p", "source": origin.image(fail=9, status=502)})
    view = await finished(server, answer["job_id"])
    assert (view["state"], view["attempts"], view["error"]) == ("failed", 3, "upstream_error")


async def test_a_per_job_timeout_is_transient(server: Server, origin: Origin) -> None:
    body = {"namespace": "p", "source": origin.image(delay=1), "timeout_s": 0.2}
    view = await finished(server, (await submit(server, body))["job_id"])
    assert (view["state"], view["attempts"], view["error"]) == ("failed", 3, "upstream_timeout")


async def test_permanent_failures_fail_at_once(server: Server, origin: Origin) -> None:
    cases = {
        origin.image("missing"): "source_not_found",
        origin.image("not-an-image.txt"): "unsupported_media_type",
        origin.image(fail=1, status=403): "upstream_error",
    }
    for source, code in cases.items():
        view = await finished(
            server, (await submit(server, {"namespace": "p", "source": source}))["job_id"]
        )
        assert (view["state"], view["error"]) == ("failed", code), view
        assert view["attempts"] == 1


async def test_mime_rules_judge_the_sniffed_type(server: Server, origin: Origin) -> None:
    rules = {
        # the header lies (text/plain); the bytes are a JPEG, which is what counts
        ("grid.jpg", "image/*"): "succeeded",
        ("grid.jpg", "!image/jpeg,image/*"): "failed",
        ("alpha.png", "image/jpeg"): "failed",
        ("alpha.png", "!image/vnd.adobe.photoshop,image/*"): "succeeded",
    }
    for (name, rule), state in rules.items():
        body = {"namespace": "p", "source": origin.image(name, type="text/plain"), "mime": rule}
        view = await finished(server, (await submit(server, body))["job_id"])
        assert view["state"] == state, (name, rule, view)
        if state == "failed":
            assert (view["error"], view["attempts"]) == ("mime_refused", 1)


async def test_cancel_a_running_job(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin
) -> None:
    server = await start_jobs_server(jobs_url=jobs_url)
    answer = await submit(server, {"namespace": "p", "source": origin.image(hold=1)})
    await running(server, answer["job_id"])
    async with server.session.delete(f"{server.url}/jobs/{answer['job_id']}") as resp:
        assert resp.status == 202
    view = await finished(server, answer["job_id"])
    assert (view["state"], view["error"]) == ("cancelled", "cancelled")
    async with server.session.delete(f"{server.url}/jobs/{answer['job_id']}") as resp:
        assert (resp.status, (await resp.json())["state"]) == (200, "cancelled")  # now removed
    async with server.session.get(f"{server.url}/jobs/{answer['job_id']}") as resp:
        assert resp.status == 404


async def test_cancel_a_queued_job(start_jobs_server: ServerFactory, origin: Origin) -> None:
    server = await start_jobs_server(job_concurrency=1)
    blocker = await submit(server, {"namespace": "p", "source": origin.image(hold=1)})
    await running(server, blocker["job_id"])
    queued = await submit(server, {"namespace": "p", "source": origin.image(n=2)})
    async with server.session.delete(f"{server.url}/jobs/{queued['job_id']}") as resp:
        assert (await resp.json())["state"] == "cancelled"
    origin.release.set()
    await finished(server, blocker["job_id"])
    assert len(origin.requests) == 1
