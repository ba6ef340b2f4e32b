"""/openapi.json: it names every route of the app and no other, it is valid OpenAPI 3.1, and a
running server answers as it says (schemathesis, bounded to a few seconds)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from imageserver import __version__
from imageserver.jobs.tasks import parsers
from imageserver.settings import Settings
from imageserver.web import create_app
from imageserver.web.appkeys import SERVICES
from imageserver.web.openapi import describe
from tests.conftest import Server, ServerFactory, image_bytes

METHODS = ("get", "post", "put", "patch", "delete")
# Left out of the description on purpose: HEAD (aiohttp adds one to every GET, answered as the
# GET without a body), and the admin dashboard: HTML pages behind a login session and CSRF
# tokens, for people, with its static files. Listed one by one, so a new dashboard route is a
# decision too.
EXCLUDED_METHODS = {"HEAD"}
ADMIN = "/admin"
EXCLUDED = {
    ("GET", ADMIN),
    ("GET", ADMIN + "/login"),
    ("POST", ADMIN + "/login"),
    ("POST", ADMIN + "/logout"),
    ("GET", ADMIN + "/jobs"),
    ("GET", ADMIN + "/jobs/{id}"),
    ("POST", ADMIN + "/jobs/{id}/{action}"),
    ("GET", ADMIN + "/counts.json"),
    ("GET", ADMIN + "/groups"),
    ("GET", ADMIN + "/instances"),
    ("GET", ADMIN + "/images"),
    ("GET", ADMIN + "/images/{namespace}/{hash}"),
    ("POST", ADMIN + "/images/{namespace}/{hash}/delete"),
    ("GET", ADMIN + "/metrics"),
    ("GET", ADMIN + "/static"),
}
_PARAM = re.compile(r"\{[^}]*\}")
# schemathesis's examples per operation: enough to meet each parameter's edges, few enough that
# the ~30 operations take seconds
MAX_EXAMPLES = 10


def _normal(path: str) -> str:
    """OpenAPI knows one spelling of a path: `/{namespace}` and `/{queue}` are one."""
    return _PARAM.sub("{}", path)


def _router_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route, HEAD aside."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method not in EXCLUDED_METHODS
    }


def _described_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), _normal(path))
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }


def test_every_route_is_described_and_nothing_else() -> None:
    """Both ways: a route added without its description fails, and so does a described one
    that the router no longer has; path parameters' names aside (OpenAPI has one spelling)."""
    settings = Settings(admin_prefix=ADMIN)
    routes = _router_routes(create_app(settings))
    assert routes >= EXCLUDED  # the exclusions name real routes
    served = {(method, _normal(path)) for method, path in routes - EXCLUDED}
    described = _described_routes(describe(settings))
    assert served - described == set(), "routes missing from /openapi.json"
    assert described - served == set(), "described routes the router does not have"


def test_description_is_valid_openapi() -> None:
    document = describe(Settings(public_url="https://img.example.com/"))
    validate(document)  # openapi-spec-validator, against the 3.1 schema
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(_described_routes(document))
    assert document["info"]["version"] == __version__
    assert document["servers"] == [{"url": "https://img.example.com"}]
    assert "servers" not in describe(Settings())  # clients take the URL they fetched it from
    job = document["components"]["schemas"]["JobRequest"]["properties"]
    assert set(job["kind"]["enum"]) == set(parsers())  # the kinds registered (jobs/tasks.py)


async def test_served_description(server: Server) -> None:
    async with server.session.get(server.url + "/openapi.json") as resp:
        assert resp.status == 200
        assert await resp.json() == describe(server.app[SERVICES].settings)


async def test_running_server_answers_as_described(start_server: ServerFactory) -> None:
    """No 5xx for any generated request, and GETs answer what their schema says. Without
    workers nothing submitted runs, and ?source= may name loopback only: nothing leaves it."""
    server = await start_server(workers=False, source_allowed_hosts=["127.0.0.1"])
    async with server.session.get(server.url + "/openapi.json") as resp:
        document = await resp.json()
    failures = await asyncio.to_thread(_fuzz, document, server.url, image_bytes("small.png"))
    assert failures == [], "\n\n".join(failures)


def _fuzz(document: dict[str, Any], base_url: str, image: bytes) -> list[str]:
    """schemathesis's stateless checks on every operation (in a thread: its client blocks),
    then an upload and its image's GETs, 200s whose answers must match their schemas."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            failures += _fuzz_operation(result.ok(), base_url, session)
        upload = schema["/{namespace}"]["POST"].Case(
            path_parameters={"namespace": "p"}, body=image, media_type="image/png"
        )
        hash_ = _answered(upload, base_url, session, failures).json()["hash"]
        parts = {"aaa": hash_[:3], "bbb": hash_[3:6], "ccc": hash_[6:9], "rest": hash_[9:]}
        image_path = "/{namespace}/{aaa}/{bbb}/{ccc}/{rest}"
        for label, extra in [
            ("/info.json", {}),
            ("/original", {}),
            ("/{token}", {"token": "w10.png"}),
        ]:
            case = schema[image_path + label]["GET"].Case(
                path_parameters={"namespace": "p", **parts, **extra}
            )
            _answered(case, base_url, session, failures)
    return failures


def _answered(
    case: Any, base_url: str, session: requests.Session, failures: list[str]
) -> schemathesis.Response:
    """A 200, its failures (if any) added to `failures`."""
    response = case.call(base_url=base_url, session=session)
    assert response.status_code == 200, (case.operation.label, response.text)
    failures += _checked(case, response, [not_a_server_error, response_schema_conformance])
    return response


def _fuzz_operation(operation: Any, base_url: str, session: requests.Session) -> list[str]:
    checks = [not_a_server_error]
    if operation.method.upper() == "GET":
        checks.append(response_schema_conformance)
    failures: list[str] = []

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, timeout=10)
        failures.extend(_checked(case, response, checks))

    run()
    return failures


def _checked(case: Any, response: Any, checks: list[Any]) -> list[str]:
    try:
        case.validate_response(response, checks=checks)
    except (AssertionError, FailureGroup) as exc:  # one failure, or several of one response
        return [f"{case.operation.label}: {exc}\n{case.as_curl_command()}"]
    return []
