"""Asynchronous ingestion jobs on saq: queues with priorities, polite fetching, callbacks.

`Jobs` submits and looks after jobs (the HTTP API's side); `Workers` runs them (in `serve`, or
alone in `imageserver worker`). Backends are chosen by URL: SQLite (embedded) or Redis.
"""

from .client import Jobs
from .workers import Workers

__all__ = ["Jobs", "Workers"]
