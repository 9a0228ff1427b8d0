"""Connecting to Ray: a private local instance, or a cluster named by address.

Kept apart from the pipeline so that the one place that imports Ray turns its absence into
a :class:`MissingExtraError`, and so a run that started Ray also stops it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from revsearch.errors import BackendUnavailableError, BadParameterError, MissingExtraError

LOCAL = "local"


def import_ray() -> ModuleType:
    """``ray`` with Ray Data, or the error that names the extra to install."""
    try:
        import ray
        import ray.data  # in the "data" extra of ray; needs pyarrow
    except ImportError as exc:
        raise MissingExtraError("ray", "ray") from exc
    return ray


def resolve_address(address: str | None) -> str:
    """An explicit address wins, then ``RAY_ADDRESS``, else a private local instance."""
    target = address or os.environ.get("RAY_ADDRESS") or LOCAL
    if target.startswith("ray://"):
        # Ray Data's streaming executor needs a full driver (ray-project/ray#48682).
        raise BadParameterError(
            f"{target}: Ray Data does not run over Ray Client (ray://); run this command on a "
            "cluster node with --ray-address HEAD:6379, or submit it with 'ray job submit'"
        )
    return target


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray, connected for the duration of the block; an existing connection is reused as is.

    ``num_cpus`` sizes a local instance only; a cluster brings its own resources. The
    dashboard and usage reporting are off: a local instance is a throw-away for one run.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    target = resolve_address(address)
    # One CLI run, one line of output: Ray's own notices go to its log files, errors still
    # arrive as exceptions. Each can be overridden from the environment.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if target == LOCAL:
        ray.init(
            address=LOCAL,
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            **quiet,
        )
    else:
        try:
            ray.init(address=target, **quiet)
        except ConnectionError as exc:
            raise BackendUnavailableError(
                f"cannot reach the Ray cluster at {target}: {exc}"
            ) from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    try:
        yield ray
    finally:
        ray.shutdown()
