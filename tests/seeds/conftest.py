"""The jobs fixtures (loopback origin, callback receiver, redis-server, job servers) for the
seeds' replays."""

from tests.jobs.conftest import (  # noqa: F401  (fixtures, registered by import)
    jobs_url,
    origin,
    receiver,
    redis_server,
    redis_url,
    server,
    start_jobs_server,
)
