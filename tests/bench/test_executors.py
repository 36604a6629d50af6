"""Executors: what a local Ray instance started by softeq exposes to the network,
and that a local pool's workers end with the grid's process."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from softeq.bench import RayExecutor, RunSpec
from softeq.bench._executors import _is_loopback, _warn_unless_loopback

# Fails inside the worker at once (unknown task), so that Ray is up in seconds.
FAILING = RunSpec("s", "no-such-task", "mlp", 0, "fast", ())


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # an IPv6 socket bound to IPv4 loopback
        ("0.0.0.0", False),
        ("::", False),
        ("::ffff:0.0.0.0", False),
        ("192.0.2.2", False),
        ("fe80::1%eth0", False),
        ("", False),
    ],
)
def test_is_loopback(ip, expected):
    assert _is_loopback(ip) is expected


# A parent with a pool of one worker, the worker busy for ten minutes (as with a
# run in training); prints the worker's pid once it is up.
_PARENT = """
import os, time
from softeq.bench._executors import worker_pool

if __name__ == "__main__":
    pool = worker_pool(1, every=0.1)
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 600)
    time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (Linux)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_local_pool_workers_exit_when_the_grid_process_is_killed(tmp_path, sig):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(_PARENT))
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        worker = int(parent.stdout.readline())
        assert _running(worker)
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker), "the pool's worker outlived the killed grid"
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
        if "worker" in locals() and _running(worker):
            os.kill(worker, signal.SIGKILL)


def _ray_turns_token_auth_on() -> bool:
    """Whether this Ray enables token authentication for ray.init by default."""
    name = "ray._private.authentication.authentication_token_setup"
    if importlib.util.find_spec("ray._private.authentication") is None:
        return False
    return hasattr(importlib.import_module(name), "enable_token_auth_by_default")


def _listeners(psutil, proc) -> set[tuple[str, str, int]]:
    """(process name, ip, port) of every listening TCP and bound UDP socket."""
    found = set()
    try:
        name, conns = proc.name(), proc.net_connections(kind="inet")
    except psutil.NoSuchProcess:  # a short-lived helper process that has exited
        return found
    for conn in conns:
        if conn.laddr and (conn.status == psutil.CONN_LISTEN or not conn.raddr):
            found.add((name, conn.laddr.ip, conn.laddr.port))
    return found


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_local_ray_instance_listens_on_loopback_only(monkeypatch, tmp_path):
    ray = pytest.importorskip("ray")
    psutil = pytest.importorskip("psutil")  # Ray ships one in its thirdparty_files
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    had_auth_mode = "RAY_AUTH_MODE" in os.environ
    cluster_mode = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # must not be joined
    me = psutil.Process()
    before = _listeners(psutil, me)
    results = RayExecutor(workers=1).run([FAILING], tmp_path)
    try:
        assert next(results)["status"] == "failed"  # Ray is up until the close
        node_ip = ray.util.get_node_ip_address()
        ray_procs = me.children(recursive=True)
        found = _listeners(psutil, me) - before
        for proc in ray_procs:
            found |= _listeners(psutil, proc)
        names = {name for name, _, _ in found}
        auth_mode = os.environ.get("RAY_AUTH_MODE")
    finally:
        results.close()  # ray.shutdown()
    assert {"gcs_server", "raylet"} <= names  # the check is not vacuous
    exposed = sorted(s for s in found if not _is_loopback(s[1]))
    assert not exposed, f"Ray sockets reachable from other machines: {exposed}"
    assert _is_loopback(node_ip)
    if _ray_turns_token_auth_on() and not had_auth_mode:
        assert auth_mode == "token"  # softeq leaves Ray's default alone
    assert os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") == cluster_mode


def test_a_network_address_is_named_in_a_warning(caplog):
    _warn_unless_loopback("127.0.0.1")
    assert not caplog.records
    _warn_unless_loopback("192.0.2.2")
    assert "took address 192.0.2.2" in caplog.text
    assert "reachable from other machines" in caplog.text
