"""Two servers and two workers of docker-compose.yml on one bucket and one Redis, behind nginx:
uploads, renders and jobs spread over them, one server and one worker killed with SIGKILL in the
middle. Everything acknowledged must be there afterwards, whole."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import redis

from tests.s3_fixtures import raw_client
from tests.scaleout.conftest import Cluster, Sources
from tests.scaleout.workload import (
    EXPECTED,
    OUTPUTS,
    PAGES,
    RASTERIZE,
    SAME_ON_BOTH,
    Client,
    Ledger,
    decoded_size,
    noise_jpeg,
    path_of,
    pdf_of_pages,
)

FINISHED = {"succeeded", "failed", "cancelled"}
SLOW_SOURCE_S = 1.0  # jobs fetch this long, so both workers have jobs running at the kill


async def test_kill_9_of_a_server_and_a_worker_loses_nothing(
    cluster: Cluster, sources: Sources
) -> None:
    ledger = Ledger()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(30)) as session:
        front = Client(session, cluster.front, ledger)
        nodes = [Client(session, url, ledger) for url in cluster.server_urls]
        await _same_outputs_on_both_nodes(nodes, ledger)
        traffic = asyncio.create_task(_traffic(front, uploads=24))
        await ledger.uploaded(6)
        jobs = await _submit_jobs(front, sources, 8, pdfs=2)
        await _until_both_workers_run_jobs(front)
        assert all([await node.metric("imageserver_render_seconds_count") for node in nodes])
        posts = [await n.metric("imageserver_http_requests_total", method="POST") for n in nodes]
        assert all(posts), f"uploads and jobs went to one server only: {posts}"
        assert not traffic.done()  # the kill comes with uploads and renders in flight
        running = _workers_of(cluster.redis_url, status="active")
        cluster.servers[0].kill_9()
        cluster.workers[0].kill_9()
        later = await _submit_jobs(front, sources, 4, pdfs=0)
        jobs += later
        await traffic
        views = await _finished(front, jobs)
        await _check_uploads(front, ledger)
        await _check_jobs(front, ledger, views)
    _check_stored_outputs(cluster)
    _check_served_outputs(ledger)
    _check_taken_back(running, _workers_of(cluster.redis_url), views, later)


async def _same_outputs_on_both_nodes(nodes: list[Client], ledger: Ledger) -> None:
    """The same outputs asked of both servers at once: each may render and store it; every
    answer is the same valid image."""
    await nodes[0].upload_and_render(data := noise_jpeg())
    hash_ = next(h for h, d in ledger.uploads.items() if d == data)
    asks = [(n, t) for t in SAME_ON_BOTH for n in nodes for _ in range(2)]
    bodies = await asyncio.gather(*(node.get_output(hash_, token) for node, token in asks))
    for token, size in SAME_ON_BOTH.items():
        same = {body for (_, t), body in zip(asks, bodies, strict=True) if t == token}
        assert len(same) == 1, f"{token}: the nodes answered {len(same)} different bodies"
        assert decoded_size(same.pop()) == size


async def _submit_jobs(front: Client, sources: Sources, ingests: int, pdfs: int) -> list[str]:
    """Ingests of distinct images with outputs, and rasterizes of a PDF; acknowledged ids."""
    ids = []
    for _ in range(ingests):
        data = noise_jpeg()
        source = sources.add(f"{len(sources.files)}.jpg", data, SLOW_SOURCE_S)
        job_id = await front.submit({"namespace": "p", "source": source, "outputs": [*OUTPUTS]})
        if job_id:
            front.ledger.ingests[job_id] = data
            ids.append(job_id)
    for _ in range(pdfs):
        source = sources.add(f"{len(sources.files)}.pdf", pdf_of_pages(), SLOW_SOURCE_S)
        job_id = await front.submit({"namespace": "docs", "source": source, "rasterize": RASTERIZE})
        if job_id:
            front.ledger.rasterizes.append(job_id)
            ids.append(job_id)
    return ids


async def _traffic(front: Client, uploads: int, concurrency: int = 4) -> None:
    """Uploads of new images, each followed by renders of OUTPUTS, `concurrency` at a time."""
    images = [noise_jpeg() for _ in range(uploads)]

    async def client() -> None:
        while images:
            await front.upload_and_render(images.pop())

    await asyncio.gather(*(client() for _ in range(concurrency)))


async def _until_both_workers_run_jobs(front: Client) -> None:
    """Two jobs at a time per worker (TEST_SIZED): more than two running means both run some."""
    deadline = time.monotonic() + 15
    while json.loads(await front.get("/status"))["running"] < 3:
        assert time.monotonic() < deadline, "the workers never ran jobs side by side"
        await asyncio.sleep(0.05)


async def _finished(front: Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each job once finished: the killed worker's are taken back after its heartbeat."""
    deadline = time.monotonic() + 40
    views = {}
    for job_id in ids:
        while (view := await front.job(job_id))["state"] not in FINISHED:
            assert time.monotonic() < deadline, view
            await asyncio.sleep(0.1)
        views[job_id] = view
    return views


async def _check_uploads(front: Client, ledger: Ledger) -> None:
    assert len(ledger.uploads) >= 15, f"only {len(ledger.uploads)} uploads acknowledged"
    for hash_, data in ledger.uploads.items():
        info = json.loads(await front.get(path_of(hash_) + "/info.json"))
        assert info == ledger.infos[hash_]
        assert await front.get(path_of(hash_) + "/original") == data


async def _check_jobs(front: Client, ledger: Ledger, views: dict[str, dict[str, Any]]) -> None:
    failed = {i: (v["state"], v["error"]) for i, v in views.items() if v["state"] != "succeeded"}
    assert not failed
    for job_id, data in ledger.ingests.items():
        hash_ = views[job_id]["result"]["hash"]
        assert await front.get(path_of(hash_) + "/original") == data
        assert set(views[job_id]["result"]["outputs"]) == set(OUTPUTS)
    for job_id in ledger.rasterizes:
        pages = views[job_id]["result"]["pages"]
        assert [(p["width"], p["height"]) for p in pages] == list(PAGES)
        for page in pages:
            original = await front.get(page["url"])
            assert decoded_size(original) == (page["width"], page["height"])


def _check_stored_outputs(cluster: Cluster) -> None:
    """Every output in the bucket decodes whole at its expected size."""
    client = raw_client(cluster.s3_endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=cluster.bucket, Prefix=cluster.prefix + "/"
    )
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    outputs = [
        k for k in keys if k.rsplit("/", 1)[1] not in ("original", "info.json", "pages.json")
    ]
    assert len(outputs) >= 2 * 30, f"only {len(outputs)} outputs stored"
    for key in outputs:
        body = client.get_object(Bucket=cluster.bucket, Key=key)["Body"].read()
        assert decoded_size(body) == EXPECTED[key.rsplit("/", 1)[1]], key


def _check_served_outputs(ledger: Ledger) -> None:
    for token, body in ledger.served:
        assert decoded_size(body) == EXPECTED[token], token


def _workers_of(redis_url: str, status: str | None = None) -> dict[str, str]:
    """Job id: the saq worker that runs or ran it, from saq's records in Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        records = [json.loads(client.get(key) or "{}") for key in client.scan_iter("saq:job:*")]
    finally:
        client.close()
    return {
        r["key"]: r["worker_id"]
        for r in records
        if r.get("worker_id") and status in (None, r["status"])
    }


def _check_taken_back(
    running: dict[str, str],
    ran: dict[str, str],
    views: dict[str, dict[str, Any]],
    later: list[str],
) -> None:
    """Both workers ran jobs at the kill; the dead one's ran again on the other, to success.
    Jobs submitted after the kill tell which worker survived."""
    assert len(set(running.values())) == 2, f"jobs running on one worker only: {running}"
    survivor = {ran[job_id] for job_id in later}
    assert len(survivor) == 1
    # ... but for one that ended in the instant between the look at Redis and the kill
    orphans = [j for j, worker in running.items() if worker not in survivor and ran[j] in survivor]
    assert orphans, "no job of the dead worker was taken back"
    for job_id in orphans:
        assert (views[job_id]["state"], views[job_id]["attempts"] > 1) == ("succeeded", True)
