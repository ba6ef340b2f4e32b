"""The CRIM Service Gateway's README replayed: `POST /annotator/annotate` with
`--data-urlencode doc_url=... --data-urlencode ann_doc_id=... --header "Authorization: <JWT>"`,
the storage_doc_id form, `GET /annotator/status?uuid=<UUID>`; and its changelog's process (JSON),
misc, cancel and EXPIRED. Real JWTs (PyJWT, HS256 and RS256), a real origin and receiver.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from imageserver.jobs.vesta import status_answer
from imageserver.settings import SettingsError, load
from tests.conftest import Server, ServerFactory, image_bytes
from tests.jobs.conftest import Origin, Receiver

SECRET = "a-gateway-secret-of-at-least-32-bytes!"
ANN_DOC_ID = "9a2b7c1e-0d6f-4e8a-b3c5-7f1e2d4a6b90"
DONE = {"SUCCESS", "FAILURE", "REVOKED"}


def hs256(secret: str = SECRET, **claims: Any) -> str:
    return jwt.encode({"exp": int(time.time()) + 300, **claims}, secret, algorithm="HS256")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def unsigned_jwt(header: dict[str, Any], key: bytes | None) -> str:
    """A token PyJWT refuses to make: `alg: none`, or HS256 keyed by an RSA public key."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    claims = {"exp": int(time.time()) + 300}
    signing = part(json.dumps(header).encode()) + b"." + part(json.dumps(claims).encode())
    signature = hmac.new(key, signing, hashlib.sha256).digest() if key else b""
    return (signing + b"." + part(signature)).decode()


async def annotate(
    server: Server, token: str | None, doc_id: str | None = None, **fields: str
) -> tuple[int, dict[str, Any]]:
    """`curl .../annotator/annotate[/<storage_doc_id>] --data-urlencode ... --header ...`"""
    url = f"{server.url}/annotator/annotate" + (f"/{doc_id}" if doc_id else "")
    headers = {"Authorization": token} if token is not None else {}
    async with server.session.post(url, data=fields, headers=headers) as resp:
        return resp.status, await resp.json()


async def status(server: Server, task_uuid: str) -> dict[str, Any]:
    """`curl http://localhost:5000/annotator/status\\?uuid=<UUID>`"""
    async with server.session.get(f"{server.url}/annotator/status?uuid={task_uuid}") as resp:
        answer = await resp.json()
        assert resp.status == 200, answer
        return answer


async def status_until(server: Server, task_uuid: str, wanted: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (answer := await status(server, task_uuid))["status"] not in wanted:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.02)
    return answer


async def submitted(server: Server, token: str, **fields: str) -> str:
    code, answer = await annotate(server, token, **fields)
    assert code == 200, answer
    assert set(answer) == {"uuid"}
    assert str(uuid.UUID(answer["uuid"])) == answer["uuid"]  # dashed, as the seed's
    return answer["uuid"]


async def test_readme_annotate_then_status(
    start_jobs_server: ServerFactory, origin: Origin, jobs_url: str
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET, jobs_url=jobs_url)
    token = hs256()
    task = await submitted(server, token, doc_url=origin.image("grid.jpg"), ann_doc_id=ANN_DOC_ID)
    answer = await status_until(server, task, DONE)
    assert answer["status"] == "SUCCESS", answer
    assert set(answer) == {"uuid", "status", "result", "misc"}
    assert answer["uuid"] == task
    assert answer["result"]["info"]["width"] > 0
    assert answer["misc"] == {"ann_doc_id": ANN_DOC_ID}
    undashed = await status(server, uuid.UUID(task).hex)  # our job id is accepted too
    assert undashed["status"] == "SUCCESS"


async def test_readme_storage_doc_id_renders_its_outputs(
    start_jobs_server: ServerFactory,
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET)
    stored = await server.upload(image_bytes("grid.jpg"), namespace="annotator")
    code, answer = await annotate(server, hs256(), stored["hash"], ann_doc_id=ANN_DOC_ID)
    assert code == 200, answer
    done = await status_until(server, answer["uuid"], DONE)
    assert done["status"] == "SUCCESS", done
    assert done["result"]["hash"] == stored["hash"]

    code, answer = await annotate(server, hs256(), stored["hash"], outputs="w50.jpg")
    done = await status_until(server, answer["uuid"], DONE)
    output = done["result"]["outputs"]["w50.jpg"]
    async with server.session.get(output) as resp:
        assert resp.status == 200
    assert done["misc"] == {}


async def test_process_takes_a_json_body_and_passes_unknown_arguments_in_misc(
    start_jobs_server: ServerFactory, origin: Origin, receiver: Receiver
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET)
    body = {
        "doc_url": origin.image("grid.jpg"),
        "callback": receiver.url,
        "outputs": ["x40.webp"],
        "language": "fr",
        "options": {"threshold": 0.5},
        "name": "scan-17",  # the worker's argument, not where the original is stored
    }
    headers = {"Authorization": hs256()}
    async with server.session.post(
        f"{server.url}/annotator/process", json=body, headers=headers
    ) as resp:
        task = (await resp.json())["uuid"]
    misc = {"language": "fr", "options": {"threshold": 0.5}, "name": "scan-17"}
    assert (await status_until(server, task, DONE))["misc"] == misc
    [(_, raw)] = await receiver.wait_for(1)
    payload = json.loads(raw)
    assert payload["success"] is True
    assert json.loads(payload["extra"]) == misc  # the callback carries misc back
    assert list(payload["outputs"]) == ["x40.webp"]


async def test_progress_then_success(start_jobs_server: ServerFactory, origin: Origin) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET)
    task = await submitted(server, hs256(), doc_url=origin.image("grid.jpg", hold=1))
    running = await status_until(server, task, {"PROGRESS"})
    progress = running["result"]
    assert 0 <= progress["current"] <= progress["total"] == 100
    assert progress["type"] == "annotator"
    assert progress["start_time"] is not None
    assert {"worker_id_version", "host"} <= set(progress)
    origin.release.set()
    assert (await status_until(server, task, DONE))["status"] == "SUCCESS"
    async with server.session.get(f"{server.url}/jobs/{uuid.UUID(task).hex}") as resp:
        assert (await resp.json())["progress"] == 100


async def test_a_missing_source_is_a_failure(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET)
    task = await submitted(server, hs256(), doc_url=origin.image("missing"))
    answer = await status_until(server, task, DONE)
    assert answer["status"] == "FAILURE"
    assert answer["result"]["code"] == "source_not_found"
    assert answer["result"]["message"]


async def test_cancel_revokes_a_queued_task_and_terminates_a_running_one(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET, job_concurrency=1)
    running = await submitted(server, hs256(), doc_url=origin.image("grid.jpg", hold=1))
    await status_until(server, running, {"PROGRESS"})
    queued = await submitted(server, hs256(), doc_url=origin.image("grid.jpg"))
    assert (await status(server, queued))["status"] == "PENDING"

    cancel, headers = f"{server.url}/annotator/cancel", {"Authorization": hs256()}
    for task, message in ((queued, "revoked"), (running, "terminated")):
        async with server.session.post(cancel, data={"uuid": task}, headers=headers) as resp:
            answer = await resp.json()
        revoked = {"code": 109, "message": message}
        assert answer == {"uuid": task, "status": "REVOKED", "result": revoked}
        assert (await status_until(server, task, DONE))["result"] == revoked

    async with server.session.post(f"{cancel}?uuid={queued}", headers=headers) as resp:
        assert resp.status == 409  # finished: nothing to cancel


@pytest.mark.parametrize(
    ("doc_id", "fields", "named"),
    [
        (None, {"ann_doc_id": ANN_DOC_ID}, "doc_url"),  # no document
        ("0" * 32, {"doc_url": "http://127.0.0.1/a.jpg"}, "doc_url"),  # two
        ("not-a-hash", {}, "hash"),
        (None, {"doc_url": "http://127.0.0.1/a.jpg", "notes": "x" * 5000}, "misc"),
        (None, {"doc_url": "http://127.0.0.1/a.jpg", "outputs": "w0.jpg"}, "width"),
    ],
)
async def test_a_bad_submission_is_a_400_naming_its_field(
    start_jobs_server: ServerFactory, doc_id: str | None, fields: dict[str, str], named: str
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET)
    code, answer = await annotate(server, hs256(), doc_id, **fields)
    assert code == 400
    assert answer["message"].startswith(f"{named}: "), answer


async def test_an_unknown_uuid_has_expired(server: Server) -> None:
    task = str(uuid.uuid4())
    assert await status(server, task) == {"uuid": task, "status": "EXPIRED", "result": None}
    async with server.session.get(f"{server.url}/annotator/status?uuid=nope") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "bad_request"


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        hs256(exp=int(time.time()) - 10),  # expired
        hs256("another-secret-of-at-least-32-bytes!!"),  # forged
        unsigned_jwt({"alg": "none", "typ": "JWT"}, None),
        unsigned_jwt({"alg": "HS512", "typ": "JWT"}, SECRET.encode()),  # not the pinned one
    ],
)
async def test_hs256_refuses_a_bad_token(
    start_jobs_server: ServerFactory, origin: Origin, token: str | None
) -> None:
    server = await start_jobs_server(gateway_jwt_secret=SECRET)
    code, answer = await annotate(server, token, doc_url=origin.image("grid.jpg"))
    assert code == 401
    assert answer["error"] == "unauthorized"
    assert answer["message"]


async def test_rs256_with_a_key_file(
    start_jobs_server: ServerFactory, origin: Origin, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "gateway.pem"
    key_file.write_text(public_pem(rsa_key))
    server = await start_jobs_server(gateway_jwt_public_key=str(key_file))
    claims = {"exp": int(time.time()) + 300}
    token = jwt.encode(claims, rsa_key, algorithm="RS256")
    task = await submitted(server, token, doc_url=origin.image("grid.jpg"))
    assert (await status_until(server, task, DONE))["status"] == "SUCCESS"

    expired = jwt.encode({"exp": int(time.time()) - 10}, rsa_key, algorithm="RS256")
    # the classic confusion: HS256 keyed by the public key's own PEM bytes
    confused = unsigned_jwt({"alg": "HS256", "typ": "JWT"}, public_pem(rsa_key).encode())
    for refused in (expired, confused, hs256()):
        code, answer = await annotate(server, refused, doc_url=origin.image("grid.jpg"))
        assert code == 401, answer


async def test_both_keys_each_verify_their_own_algorithm(
    start_jobs_server: ServerFactory, origin: Origin, rsa_key: rsa.RSAPrivateKey
) -> None:
    server = await start_jobs_server(
        gateway_jwt_secret=SECRET, gateway_jwt_public_key=public_pem(rsa_key)
    )
    rs256 = jwt.encode({"exp": int(time.time()) + 300}, rsa_key, algorithm="RS256")
    for token in (hs256(), rs256):
        code, answer = await annotate(server, token, doc_url=origin.image("grid.jpg"))
        assert code == 200, answer


async def test_without_jwt_keys_the_api_key_rule_applies(
    start_jobs_server: ServerFactory, origin: Origin
) -> None:
    server = await start_jobs_server(api_keys=["k1"])
    code, _ = await annotate(server, hs256(), doc_url=origin.image("grid.jpg"))
    assert code == 401
    code, answer = await annotate(server, "Bearer k1", doc_url=origin.image("grid.jpg"))
    assert code == 200
    async with server.session.get(f"{server.url}/annotator/status?uuid={answer['uuid']}") as resp:
        assert resp.status == 401  # a job view, as GET /jobs/{id}


def test_bad_keys_are_start_up_errors(tmp_path: Path) -> None:
    not_rsa = public_pem(ec.generate_private_key(ec.SECP256R1()))
    cases = {
        "gateway_jwt_secret": ["short"],
        "gateway_jwt_public_key": [str(tmp_path / "missing.pem"), "-----BEGIN nonsense", not_rsa],
    }
    for name, values in cases.items():
        for value in values:
            with pytest.raises(SettingsError, match=f"^{name}: "):
                load(env={f"IMAGESERVER_{name.upper()}": value, "IMAGESERVER_STORAGE": "x"})


@pytest.mark.parametrize(
    ("state", "error", "started", "expected"),
    [
        ("queued", None, False, ("PENDING", None)),
        ("queued", "upstream_error", True, ("RETRY", {"code": "upstream_error", "message": "m"})),
        ("failed", "too_large", True, ("FAILURE", {"code": "too_large", "message": "m"})),
        ("cancelled", "abandoned", True, ("FAILURE", {"code": "abandoned", "message": "m"})),
        ("cancelled", "cancelled", False, ("REVOKED", {"code": 109, "message": "revoked"})),
        ("cancelled", "cancelled", True, ("REVOKED", {"code": 109, "message": "terminated"})),
    ],
)
def test_job_states_as_celery_states(
    state: str, error: str | None, started: bool, expected: tuple[str, Any]
) -> None:
    """Every state a job view has; a failed attempt waiting out its backoff is a RETRY."""
    view = {
        "state": state,
        "error": error,
        "message": "m" if error else None,
        "started_at": "2025-05-01T10:00:00.125Z" if started else None,
        "progress": 0,
        "result": None,
        "request": {"namespace": "annotator", "extra": "order-17"},  # a native job's extra
    }
    answer = status_answer("u", view)
    assert (answer["status"], answer["result"]) == expected
    assert answer["misc"] == {}
