"""Every URL the server answers, through a real server: the upload answer's path and urls (plain,
?source=, signed), and the public base behind a TLS proxy (public_url, trusted X-Forwarded-*),
in upload answers, job answers, job results and insight's preview_url."""

from __future__ import annotations

from typing import Any

from imageserver import urlsigning
from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import FAST, finished, submit

PUBLIC = "https://img.example.com"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "img.example.com"}


async def _post(
    server: Server, headers: dict[str, str] | None = None, **params: str
) -> dict[str, Any]:
    data = image_bytes("grid.jpg")
    async with server.session.post(
        f"{server.url}/p", data=data, params=params, headers=headers
    ) as resp:
        assert resp.status == 200
        return await resp.json()


async def _get(server: Server, url: str) -> int:
    async with server.session.get(url, allow_redirects=False) as resp:
        return resp.status


async def test_the_upload_answer_carries_paths_and_urls(server: Server) -> None:
    answer = await server.upload(image_bytes("grid.jpg"), outputs="w100.jpeg,x50.webp")
    h = answer["hash"]
    path = f"/p/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}"
    assert answer["path"] == path
    assert answer["urls"] == {
        "original": f"{server.url}{path}/original",
        "info": f"{server.url}{path}/info.json",
        "outputs": {  # canonical tokens: w100.jpeg is w100.jpg
            "w100.jpg": f"{server.url}{path}/w100.jpg",
            "x50.webp": f"{server.url}{path}/x50.webp",
        },
    }
    for url in [answer["urls"]["original"], *answer["urls"]["outputs"].values()]:
        assert await _get(server, url) == 200
    async with server.session.get(answer["urls"]["info"]) as resp:
        stored = await resp.json()
    assert "path" not in stored
    assert "urls" not in stored
    assert stored == {k: v for k, v in answer.items() if k not in ("path", "urls")}


async def test_a_source_upload_answers_alike(server: Server) -> None:
    first = await server.upload(image_bytes("grid.jpg"))
    source = first["urls"]["original"]
    answer = await server.upload(b"", source=source, outputs="w30.png")
    assert (answer["path"], answer["urls"]["info"]) == (first["path"], first["urls"]["info"])
    assert list(answer["urls"]["outputs"]) == ["w30.png"]
    assert await _get(server, answer["urls"]["outputs"]["w30.png"]) == 200


async def test_namespace_outputs_are_listed_signed_when_keys_are_set(
    start_server: ServerFactory,
) -> None:
    server = await start_server(
        url_signing_keys=["k"],
        stored_outputs_public=False,
        namespace_policies={"p": "signed"},
        namespace_outputs={"p": ["x40.jpg"]},
    )
    answer = await server.upload(image_bytes("grid.jpg"), outputs="w100.jpg")
    outputs = answer["urls"]["outputs"]
    assert set(outputs) == {"w100.jpg", "x40.jpg"}
    for token, url in outputs.items():
        assert url == server.url + urlsigning.sign(f"{answer['path']}/{token}", ["k"])
        assert await _get(server, url) == 200
        assert await _get(server, url.split("?")[0]) == 403  # the signature is what lets it in


async def test_public_url_wins_everywhere(start_server: ServerFactory) -> None:
    server = await start_server(public_url=PUBLIC + "/", trust_forwarded_headers=True, **FAST)
    answer = await _post(server, {"X-Forwarded-Host": "other.example"}, outputs="w20.jpg")
    assert answer["urls"]["info"] == f"{PUBLIC}{answer['path']}/info.json"
    assert answer["urls"]["outputs"]["w20.jpg"] == f"{PUBLIC}{answer['path']}/w20.jpg"
    source = server.url + answer["path"] + "/original"
    job = await submit(server, {"namespace": "q", "source": source, "outputs": "w10.jpg"})
    assert job["status_url"] == f"{PUBLIC}/jobs/{job['job_id']}"
    view = await finished(server, job["job_id"])
    assert view["state"] == "succeeded", view
    h = view["result"]["hash"]
    expected = f"{PUBLIC}/q/{h[:3]}/{h[3:6]}/{h[6:9]}/{h[9:]}/w10.jpg"
    assert view["result"]["outputs"] == {"w10.jpg": expected}  # stored with the job


async def test_trusted_forwarded_headers_make_the_base(start_server: ServerFactory) -> None:
    server = await start_server(trust_forwarded_headers=True)
    answer = await _post(server, FORWARDED)
    assert answer["urls"]["original"] == f"https://img.example.com{answer['path']}/original"
    chained = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example:8443, b"}
    answer = await _post(server, chained)
    assert answer["urls"]["original"].startswith("https://a.example:8443/p/")
    async with server.session.get(
        f"{server.url}/?url=http://127.0.0.1:9/doc.pdf", headers=FORWARDED
    ) as resp:
        assert (await resp.json())["preview_url"].startswith("https://img.example.com/insight/_/")


async def test_malformed_forwarded_headers_are_ignored(start_server: ServerFactory) -> None:
    server = await start_server(trust_forwarded_headers=True)
    for proto, host in [
        ("javascript", "evil.example/x"),
        ("ftp", "user@evil.example"),
        ("https ://", "evil.example:99999"),
        ("", "evil example"),
    ]:
        answer = await _post(server, {"X-Forwarded-Proto": proto, "X-Forwarded-Host": host})
        assert answer["urls"]["info"].startswith(server.url + "/p/"), (proto, host)


async def test_forwarded_headers_are_not_trusted_by_default(server: Server) -> None:
    answer = await _post(server, FORWARDED)
    assert answer["urls"]["info"].startswith(server.url + "/p/")
    job = await submit(server, {"namespace": "q", "source": answer["urls"]["original"]})
    assert job["status_url"] == f"{server.url}/jobs/{job['job_id']}"
