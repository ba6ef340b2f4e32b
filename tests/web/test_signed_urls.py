"""URL policies through a real server: signed namespaces, presets-only, rotation, the CLI."""

from __future__ import annotations

import time

import pytest
from imageserver_cli.main import main

from imageserver import urlsigning
from tests.conftest import Server, ServerFactory, image_bytes

KEYS = ["new-key", "old-key"]


def _path(server: Server, hash_: str, token: str, namespace: str = "p") -> str:
    return server.image_url(hash_, namespace)[len(server.url) :] + "/" + token


async def _get(server: Server, path: str) -> tuple[int, dict[str, str]]:
    async with server.session.get(server.url + path, allow_redirects=False) as resp:
        body = await resp.json() if resp.content_type == "application/json" else {}
        return resp.status, body


@pytest.fixture
async def signed(start_server: ServerFactory) -> Server:
    return await start_server(url_signing_keys=KEYS, namespace_policies={"p": "signed"})


async def test_a_signed_namespace_renders_signed_urls_only(signed: Server) -> None:
    hash_ = (await signed.upload(image_bytes("grid.jpg")))["hash"]
    path = _path(signed, hash_, "w120.jpg")
    status, body = await _get(signed, path)
    assert (status, body["error"]) == (403, "forbidden")
    assert not (signed.storage / path[1:]).exists()  # nothing rendered, nothing stored
    assert (await _get(signed, urlsigning.sign(path, ["stranger"])))[0] == 403
    assert (await _get(signed, urlsigning.sign(path, ["old-key"])))[0] == 200  # rotation
    # once stored, an output is public (--stored-outputs-public), as nginx would serve it
    assert (await _get(signed, path))[0] == 200


async def test_expired_urls_are_refused(signed: Server) -> None:
    hash_ = (await signed.upload(image_bytes("grid.jpg")))["hash"]
    path = _path(signed, hash_, "w130.jpg")
    late = urlsigning.sign(path, KEYS, expires=int(time.time()) - 1)
    assert (await _get(signed, late))[0] == 403
    soon = urlsigning.sign(path, KEYS, expires=int(time.time()) + 60)
    assert (await _get(signed, soon))[0] == 200


async def test_stored_outputs_can_need_a_signature_too(start_server: ServerFactory) -> None:
    server = await start_server(
        url_signing_keys=KEYS, namespace_policies={"p": "signed"}, stored_outputs_public=False
    )
    hash_ = (await server.upload(image_bytes("grid.jpg"), outputs="w100.jpg"))["hash"]
    path = _path(server, hash_, "w100.jpg")
    signed_path = urlsigning.sign(path, KEYS)
    assert (await _get(server, signed_path))[0] == 200  # and now it is in memory too
    assert (await _get(server, path))[0] == 403


async def test_the_upload_answer_carries_signed_urls(signed: Server) -> None:
    info = await signed.upload(image_bytes("grid.jpg"), outputs="w100.jpeg,x50.webp")
    assert set(info["urls"]["outputs"]) == {"w100.jpg", "x50.webp"}
    for url in info["urls"]["outputs"].values():  # absolute now, signed
        assert url.startswith(signed.url + info["path"] + "/")
        assert (await _get(signed, url.removeprefix(signed.url)))[0] == 200


async def test_public_namespaces_are_unchanged(signed: Server) -> None:
    hash_ = (await signed.upload(image_bytes("grid.jpg"), namespace="open"))["hash"]
    assert (await _get(signed, _path(signed, hash_, "w90.jpg", "open")))[0] == 200


async def test_presets_only_renders_preset_names(start_server: ServerFactory) -> None:
    server = await start_server(
        namespace_presets={"docs": {"small": "w150"}},
        namespace_policies={"docs": "presets-only"},
    )
    hash_ = (await server.upload(image_bytes("grid.jpg"), namespace="docs"))["hash"]
    status, body = await _get(server, _path(server, hash_, "w151.jpg", "docs"))
    assert (status, body["error"]) == (403, "forbidden")
    async with server.session.get(server.image_url(hash_, "docs") + "/small.webp") as resp:
        assert resp.status == 200  # served under the preset's own name, not redirected
        assert not resp.history
    # what the preset stored is public under its canonical name
    assert (await _get(server, _path(server, hash_, "w150.webp", "docs")))[0] == 200


async def test_the_url_command_signs_what_the_server_accepts(
    signed: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    hash_ = (await signed.upload(image_bytes("grid.jpg")))["hash"]
    argv = ["url", "p", hash_, "w0140.jpeg", "--expires-in", "60", "--url-signing-key", "new-key"]
    assert main(argv) == 0
    url = capsys.readouterr().out.strip()
    assert "/w140.jpg?exp=" in url
    assert (await _get(signed, url))[0] == 200
