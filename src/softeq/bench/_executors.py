"""Executors: where the runs of a grid train.

Both executors call the same `execute(spec, root)` (through `execute_before`, which
honours a grid's time limit) in a separate single-threaded process, so a grid gives
the same numbers whichever runs it:

* `LocalExecutor` -- a process pool on this machine (``spawn`` start method,
  `worker_pool`), or the calling process itself with ``workers=0`` (debugging,
  tests); its workers end with the grid's process, however that ends;
* `RayExecutor` -- a Ray cluster (``address``) or a local Ray instance; one CPU
  per run. On a cluster, `root` must be storage that every node sees.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ._suites import RunSpec
from ._worker import execute_before

EXECUTORS = ("local", "ray")

logger = logging.getLogger(__name__)

# Ray gives a node it starts the machine's network address unless "cluster mode"
# is off (it is on by default on Linux); its gRPC servers then listen on every
# interface. Off, the node takes the loopback address and every server binds it.
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _failed(spec: RunSpec, err: BaseException) -> dict[str, Any]:
    return {"spec": spec.to_dict(), "status": "failed",
            "error": f"{type(err).__name__}: {err}".splitlines()[0]}  # fmt: skip


def _exit_with_parent(parent: int, every: float) -> None:
    """Pool-worker initializer: end this process once `parent` has gone.

    A pool's workers outlive a parent that is killed (``SIGTERM`` or ``SIGKILL``
    skips the pool's shutdown) and would go on training the runs already queued to
    them. A daemon thread polls the parent's pid every `every` seconds; when the
    worker has been re-parented it exits at once. A run cut short this way
    resumes from its last checkpoint on the grid's next start.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="softeq-parent-watch", daemon=True).start()


def worker_pool(workers: int, *, every: float = 1.0) -> ProcessPoolExecutor:
    """A ``spawn`` process pool of `workers` whose processes exit within `every`
    seconds of the calling process's end (`_exit_with_parent`)."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(), every),
    )


class LocalExecutor:
    """Run specs in a local process pool.

    Args:
        workers: Parallel processes (default: one per core); 0 runs every spec in
            the calling process, one after the other.
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 0):
            raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
        self.workers = default_workers() if workers is None else workers

    def run(
        self, specs: list[RunSpec], root: Path, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield one result per spec, in completion order; a spec whose turn
        comes after `deadline` (`time.time`) is not started (`execute_before`)."""
        if self.workers == 0:
            import torch

            threads = torch.get_num_threads()
            try:
                for spec in specs:
                    yield execute_before(spec, root, deadline)
            finally:
                torch.set_num_threads(threads)
            return
        workers = min(self.workers, max(1, len(specs)))
        with worker_pool(workers) as pool:
            futures = {pool.submit(execute_before, s, str(root), deadline): s
                       for s in specs}  # fmt: skip
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # noqa: BLE001 -- a crashed worker process
                    yield _failed(futures[future], err)


class RayExecutor:
    """Run specs as Ray tasks (one CPU each).

    The local instance (no `address`) is private to this machine: its node takes
    the loopback address, so that Ray's servers (GCS, raylet, workers, agents)
    listen on 127.0.0.1 only, the dashboard is off, and Ray's token
    authentication stays as Ray sets it (Ray 2.60 turns it on unless
    ``RAY_AUTH_MODE`` says otherwise). docs/reliability.md says what stays
    exposed and how to run against a cluster safely.

    Args:
        address: Ray cluster address (e.g. ``"auto"`` or ``"ray://host:10001"``);
            None starts a new local Ray instance with `workers` CPUs (never
            joining a running one, whatever ``RAY_ADDRESS`` says) and stops it
            after.
        workers: CPUs of the local instance (default: one per core).

    Raises:
        ImportError: If Ray is not installed (``pip install 'softeq[ray]'``).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray  # noqa: F401
        except ImportError as err:
            raise ImportError(
                "the ray executor needs Ray: pip install 'softeq[ray]'"
            ) from err
        self.address = address
        self.workers = default_workers() if workers is None else workers

    def run(
        self, specs: list[RunSpec], root: Path, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield one result per spec, in completion order; a spec whose task
        starts after `deadline` (`time.time` on its node) is not started."""
        import ray

        started = not ray.is_initialized()
        if started and self.address is None:
            with _loopback_node():
                ray.init(address="local", num_cpus=self.workers,
                         _node_ip_address="127.0.0.1", include_dashboard=False,
                         log_to_driver=False, configure_logging=False)  # fmt: skip
            _warn_unless_loopback(ray.util.get_node_ip_address())
        elif started:
            ray.init(address=self.address, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)  # fmt: skip
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(execute_before)
            pending = {remote.remote(s, str(root), deadline): s for s in specs}
            while pending:
                [ref], _ = ray.wait(list(pending), num_returns=1)
                spec = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as err:  # noqa: BLE001 -- a crashed Ray worker
                    yield _failed(spec, err)
        finally:
            if started:
                ray.shutdown()


@contextlib.contextmanager
def _loopback_node() -> Iterator[None]:
    """While Ray starts a local instance, turn its cluster mode off (in this
    process and, through the environment, in the processes Ray starts), so that
    the node's address is the loopback address rather than the network's."""
    from ray._private import ray_constants  # the flag is read at import

    # Internal to Ray: should a release drop it, the instance starts all the
    # same, and `_warn_unless_loopback` names the address it took.
    before_flag = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    before_env = os.environ.get(_RAY_CLUSTER_ENV)
    if before_flag is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[_RAY_CLUSTER_ENV] = "0"
    try:
        yield
    finally:
        if before_flag is not None:
            ray_constants.ENABLE_RAY_CLUSTER = before_flag
        if before_env is None:
            os.environ.pop(_RAY_CLUSTER_ENV, None)
        else:
            os.environ[_RAY_CLUSTER_ENV] = before_env


def _warn_unless_loopback(node_ip: str) -> None:
    if not _is_loopback(node_ip):
        logger.warning(
            "the local Ray instance took address %s, not the loopback address: "
            "its servers may be reachable from other machines",
            node_ip,
        )


def _is_loopback(ip: str) -> bool:
    """True for a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127.x)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def make_executor(
    name: str = "local", *, workers: int | None = None, address: str | None = None
) -> LocalExecutor | RayExecutor:
    """The executor called `name` (``"local"`` or ``"ray"``)."""
    if name == "local":
        if address is not None:
            raise ValueError("--address is for the ray executor")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address, workers)
    raise ValueError(f"unknown executor {name!r}; expected one of: "
                     f"{', '.join(EXECUTORS)}")  # fmt: skip
