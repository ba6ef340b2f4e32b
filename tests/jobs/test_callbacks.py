"""Callbacks at a loopback receiver: the payload, its signature, retries, resend, and that a
failing callback never changes the job's outcome."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from imageserver.jobs.signing import SIGNATURE_HEADER, verify
from tests.conftest import Server, ServerFactory
from tests.jobs.conftest import Origin, Receiver, delivery, finished, job, running, submit


async def test_success_payload_is_signed(
    start_jobs_server: ServerFactory, jobs_url: str, origin: Origin, receiver: Receiver
) -> None:
    server = await start_jobs_server(jobs_url=jobs_url, callback_secret="s3cret")
    body = {
        "namespace": "p",
        "source": origin.image(),
        "callback": receiver.url,
        "outputs": ["w40.webp"],
        "extra": "order-17",
    }
    answer = await submit(server, body)
    [(headers, raw)] = await receiver.wait_for(1)
    assert verify("s3cret", headers, raw, time.time())
    assert not verify("other", headers, raw, time.time())
    assert not verify("s3cret", headers, raw + b" ", time.time())
    payload = json.loads(raw)
    view = await job(server, answer["job_id"])
    assert payload == {
        "job_id": answer["job_id"],
        "success": True,
        "error": "",
        "message": "",
        "extra": "order-17",
        "source_url": origin.image(),
        "resource_url": origin.image(),
        "download_url": f"{server.url}/p/{view['result']['hash'][:3]}/"
        f"{view['result']['hash'][3:6]}/{view['result']['hash'][6:9]}/"
        f"{view['result']['hash'][9:]}/original",
        "response_code": 200,
        "delivered": False,
        "delivery_error": "",
        "hash": view["result"]["hash"],
        "info": view["result"]["info"],
        "outputs": view["result"]["outputs"],
    }
    assert view["state"] == "succeeded"  # marked finished before the receiver could ask
    # The worker records the delivery only after the receiver has answered: wait for it.
    await delivery(server, answer["job_id"], "delivered")


async def test_failure_payload_and_no_signature_without_secret(
    server: Server, origin: Origin, receiver: Receiver
) -> None:
    body = {"namespace": "p", "source": origin.image("missing"), "callback": receiver.url}
    answer = await submit(server, body)
    [(headers, raw)] = await receiver.wait_for(1)
    assert SIGNATURE_HEADER not in headers
    payload = json.loads(raw)
    assert (payload["job_id"], payload["success"]) == (answer["job_id"], False)
    assert (payload["error"], payload["response_code"]) == ("source_not_found", 404)
    assert (payload["hash"], payload["outputs"]) == (None, {})


async def test_a_callback_is_retried_until_delivered(
    server: Server, origin: Origin, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    body = {"namespace": "p", "source": origin.image(), "callback": receiver.url}
    answer = await submit(server, body)
    calls = await receiver.wait_for(3)
    assert len({raw for _, raw in calls}) == 1  # the same payload each time
    view = await delivery(server, answer["job_id"], "delivered")
    assert view["callback"]["attempts"] == 3
    assert view["state"] == "succeeded"


async def test_a_callback_that_never_succeeds_leaves_the_job_alone(
    start_jobs_server: ServerFactory, origin: Origin, receiver: Receiver
) -> None:
    server = await start_jobs_server(callback_max_attempts=2)
    receiver.fail_first = 99
    body = {"namespace": "p", "source": origin.image(), "callback": receiver.url}
    answer = await submit(server, body)
    view = await delivery(server, answer["job_id"], "failed")
    assert len(receiver.calls) == 2
    assert view["callback"]["last_status"] == 500
    assert view["state"] == "succeeded"


async def test_resend_a_callback(server: Server, origin: Origin, receiver: Receiver) -> None:
    body = {"namespace": "p", "source": origin.image(), "callback": receiver.url}
    answer = await submit(server, body)
    await receiver.wait_for(1)
    async with server.session.post(f"{server.url}/jobs/{answer['job_id']}/callback") as resp:
        assert resp.status == 202
    first, again = [json.loads(raw) for _, raw in await receiver.wait_for(2)]
    # the same, but whether the first was delivered (recorded when its receiver answered)
    assert first | {"delivered": False} == again | {"delivered": False}
    without = await submit(server, {"namespace": "p", "source": origin.image(n=2)})
    await finished(server, without["job_id"])
    async with server.session.post(f"{server.url}/jobs/{without['job_id']}/callback") as resp:
        assert resp.status == 409


async def test_a_cancelled_job_calls_back(
    server: Server, origin: Origin, receiver: Receiver
) -> None:
    body = {"namespace": "p", "source": origin.image(hold=1), "callback": receiver.url}
    answer = await submit(server, body)
    await running(server, answer["job_id"])
    async with server.session.delete(f"{server.url}/jobs/{answer['job_id']}") as resp:
        assert resp.status == 202
    [(_, raw)] = await receiver.wait_for(1)
    assert (json.loads(raw)["success"], json.loads(raw)["error"]) == (False, "cancelled")


@pytest.mark.parametrize(
    "field",
    [
        {"source": "http://127.0.0.1:9/a.jpg"},
        {"source": "http://[::ffff:169.254.169.254]/latest/meta-data"},
        {"callback": "http://169.254.169.254/latest/meta-data"},
        {"callback": "http://localhost:8080/hook"},
        {"callback": "http://10.0.0.7/hook"},
    ],
)
async def test_literal_private_addresses_are_refused_at_submit(
    start_jobs_server: ServerFactory, field: dict[str, str]
) -> None:
    """Without --allow-private-sources: a 403 at once, not a job that fails later."""
    server = await start_jobs_server(allow_private_sources=False)
    body = {"namespace": "p", "source": "http://example.com/a.jpg", **field}
    answer = await submit(server, body, status=403)
    assert answer["error"] == "source_refused"


async def test_a_refused_callback_is_not_retried(
    start_jobs_server: ServerFactory, origin: Origin, receiver: Receiver, tmp_path: Path
) -> None:
    """A callback whose address the rules refuse when posting (a worker stricter than the server
    that took the job, or a name that resolves to a private address) fails for good at once."""
    jobs_url = f"sqlite:///{tmp_path}/shared-jobs.db"
    lenient = await start_jobs_server(jobs_url=jobs_url, workers=False)
    await start_jobs_server(jobs_url=jobs_url, allow_private_sources=False, callback_max_attempts=3)
    body = {"namespace": "p", "source": origin.image(), "callback": receiver.url}
    answer = await submit(lenient, body)
    view = await delivery(lenient, answer["job_id"], "failed")
    assert "refused" in view["callback"]["last_error"]
    assert view["callback"]["attempts"] == 1
    assert receiver.calls == []
