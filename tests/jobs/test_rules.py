"""The pure parts of jobs: mime rules, request checks, signatures (and the README's verifier),
the jobs settings."""

from __future__ import annotations

import re
import time

import pytest

from imageserver.errors import BadRequest
from imageserver.jobs.mime import MimeRefused, parse_mime_rule
from imageserver.jobs.request import JobRequest, parse_request
from imageserver.jobs.signing import signed_headers, verify
from imageserver.jobs.tasks import parsers
from imageserver.settings import Settings, SettingsError, load
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("rule", "mime", "admitted"),
    [
        ("image/*", "image/png", True),
        ("image/*", "application/pdf", False),
        ("!image/vnd.adobe.photoshop,image/*", "image/vnd.adobe.photoshop", False),
        ("!image/vnd.adobe.photoshop,image/*", "image/jpeg", True),
        ("image/png,image/jpeg", "image/JPEG", True),
        ("image/png,image/jpeg", "image/webp", False),
        ("!image/svg+xml", "image/png", True),
        ("!image/svg+xml", "image/svg+xml", False),
        ("*/*,!image/*", "image/gif", False),
        ("*/*", "application/pdf", True),
    ],
)
def test_mime_rules(rule: str, mime: str, admitted: bool) -> None:
    assert parse_mime_rule(rule).admits(mime) is admitted


def test_mime_rule_checks_and_unknown_types() -> None:
    with pytest.raises(MimeRefused, match="image/png"):
        parse_mime_rule("image/jpeg").check("image/png")
    with pytest.raises(MimeRefused, match="unknown"):
        parse_mime_rule("image/*").check(None)
    parse_mime_rule("!image/svg+xml").check(None)  # only negations: the unknown passes


@pytest.mark.parametrize("rule", ["", "image", "image/", "!", "image/png,,image/gif", "a b/c"])
def test_malformed_mime_rules_are_400(rule: str) -> None:
    with pytest.raises(BadRequest, match="mime"):
        parse_mime_rule(rule)


def test_a_request_round_trips_through_its_stored_form() -> None:
    body = {
        "namespace": "p",
        "source": "https://example.com/a.jpg",
        "outputs": "w200.jpeg, x50.webp",
        "headers": {"Accept": "image/*"},
        "group": "shop-42",
        "group_limit": "3",
        "timeout_s": "2.5",
    }
    request = parse_request(body, Settings(), parsers())
    assert request.params == {"namespace": "p", "outputs": ["w200.jpg", "x50.webp"]}
    assert (request.fetch.group_limit, request.fetch.timeout_s) == (3, 2.5)
    assert request.queue == "normal"
    assert JobRequest.from_json(request.to_json()) == request


def test_signature_round_trip_and_expiry() -> None:
    body = b'{"job_id": "x"}'
    headers = signed_headers("k", int(time.time()), body)
    assert verify("k", headers, body, time.time())
    assert not verify("k", headers, body, time.time() + 301)  # replayed later
    assert signed_headers("", 0, body) == {}


def test_the_readme_verifier_accepts_our_signatures() -> None:
    """The receiver's code in docs/jobs.md ("Callbacks") is run as documented."""
    readme = (ROOT / "docs" / "jobs.md").read_text()
    code = re.search(r"```python\n(import hashlib.*?)```", readme, re.DOTALL)
    assert code is not None
    namespace: dict = {}
    exec(code.group(1), namespace)
    body = b'{"job_id": "x", "success": true}'
    headers = signed_headers("s3cret", int(time.time()), body)
    assert namespace["verify"]("s3cret", headers, body)
    assert not namespace["verify"]("s3cret", headers, body + b"\n")
    assert not namespace["verify"]("other", headers, body)


def test_jobs_settings_are_checked_at_start() -> None:
    env = {
        "IMAGESERVER_JOB_QUEUES": "urgent,Bad Name,urgent",
        "IMAGESERVER_JOB_DEFAULT_QUEUE": "later",
        "IMAGESERVER_JOBS_URL": "postgres://db",
        "IMAGESERVER_JOB_CONCURRENCY": "0",
    }
    with pytest.raises(SettingsError) as raised:
        load(env=env)
    for problem in ("Bad Name", "each once", "later", "jobs_url", "job_concurrency"):
        assert problem in str(raised.value)


def test_the_jobs_database_is_beside_the_storage_by_default() -> None:
    assert Settings().resolved_jobs_url() == "sqlite:///./data/jobs.db"
    assert Settings(storage="/srv/img").resolved_jobs_url() == "sqlite:////srv/img/jobs.db"
    assert Settings(storage="s3://b/p").resolved_jobs_url() == "sqlite:///./data/jobs.db"
    assert Settings(jobs_url="redis://r:6379/1").resolved_jobs_url() == "redis://r:6379/1"
