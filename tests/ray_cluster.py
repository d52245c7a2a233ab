"""A real Ray cluster for tests: a head and a worker node, separate processes on 127.0.0.1, one CPU each.

    from .ray_cluster import ray_cluster  # noqa: F401  (a module-scoped fixture: the address)

or `start_cluster(tmp_path) -> address` / `stop_cluster()` directly. The cluster gets its own temporary
folder, and `stop_cluster()` ends exactly the processes started for it (those whose command line names
that folder, and their children: the raylets' workers), never another Ray on the machine (`ray stop`
would end them all).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest

OBJECT_STORE = "200000000"
START_TIMEOUT = 180

_cluster: dict = {}


def ray_binary() -> Path:
    """The `ray` command of the interpreter running the tests."""
    return Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    return env


def start_cluster(tmp_path: Path, attempts: int = 2) -> str:
    """Start a head and a worker node (1 CPU each) on the loopback address; return the cluster's address.

    `ray start`'s output goes to tmp_path/ray-start.log (Ray's own logs to tmp_path/ray-logs when it fails);
    a failed start is cleaned up and tried again on a new port (a taken port, a GCS slow to come up on a
    busy machine), then reported.
    """
    if _cluster:
        raise RuntimeError(f"a test Ray cluster is already running at {_cluster['address']}")
    for attempt in range(1, attempts + 1):
        try:
            return _start(tmp_path)
        except RuntimeError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start(tmp_path: Path) -> str:
    # Short: Ray's socket paths under it must stay within the 107 bytes a Unix socket name allows.
    temp = tempfile.mkdtemp(prefix="sgray-", dir="/tmp")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    _cluster.update(address=address, temp=temp)
    ray = str(ray_binary())
    common = ["--num-cpus=1", f"--object-store-memory={OBJECT_STORE}", "--node-ip-address=127.0.0.1",
              f"--temp-dir={temp}"]
    commands = [[ray, "start", "--head", f"--port={port}", "--include-dashboard=false", "--disable-usage-stats",
                 *common],
                [ray, "start", f"--address={address}", *common]]
    log = Path(tmp_path) / "ray-start.log"
    with open(log, "ab") as out:
        for command in commands:
            try:
                done = subprocess.run(command, env=_env(), stdout=out, stderr=subprocess.STDOUT,
                                      timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                done = None
            if done is None or done.returncode != 0:
                try:  # keep Ray's own logs for the reader of the failure
                    shutil.copytree(Path(temp) / "session_latest" / "logs", Path(tmp_path) / "ray-logs",
                                    dirs_exist_ok=True, ignore_dangling_symlinks=True)
                except OSError:
                    pass
                stop_cluster()
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"`{' '.join(command[1:3])}` failed (log {log}): " + " | ".join(tail))
    _wait_for_nodes(address, 2)
    return address


def _wait_for_nodes(address: str, count: int, timeout: float = 60.0) -> None:
    """Wait until `count` nodes are alive (a worker node registers shortly after `ray start` returns)."""
    deadline = time.monotonic() + timeout
    alive = 0
    while time.monotonic() < deadline:
        alive = _alive_nodes(address)
        if alive >= count:
            return
        time.sleep(0.5)
    stop_cluster()
    raise RuntimeError(f"the test Ray cluster at {address} has {alive} of {count} nodes alive after {timeout:.0f} s")


def _alive_nodes(address: str) -> int:
    """Alive nodes, asked of the cluster's GCS without connecting this process as a driver."""
    try:
        from ray._raylet import GcsClient

        return sum(info.state == 0 for info in GcsClient(address=address).get_all_node_info().values())  # ALIVE
    except (ImportError, AttributeError, TypeError):  # Ray's internal client moved: ask a driver process
        probe = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR'); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        done = subprocess.run([sys.executable, "-c", probe, address], env=_env(), capture_output=True, text=True,
                              timeout=120)
        lines = done.stdout.strip().splitlines()
        return int(lines[-1]) if lines and lines[-1].isdigit() else 0


def stop_cluster() -> None:
    """Disconnect this process and end the test cluster's processes (by process id), then remove its folder."""
    if not _cluster:
        return
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    except ImportError:
        pass
    temp = _cluster["temp"]
    pids = _cluster_processes(temp)
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + 2  # Ray's daemons linger on SIGTERM; then as `ray stop --force` does
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    _signal([p for p in pids if _alive(p)], signal.SIGKILL)
    shutil.rmtree(temp, ignore_errors=True)
    _cluster.clear()


def _cluster_processes(temp: str) -> list[int]:
    """The processes whose command line names the cluster's folder, and all their descendants."""
    parents: dict[int, int] = {}
    roots = set()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        parents[pid] = int(stat[stat.rindex(b")") + 2:].split()[1])
        if temp.encode() in cmdline:
            roots.add(pid)
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] != b"Z"  # a zombie has ended


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def ray_available() -> Optional[str]:
    """None when Ray (with Ray Data) imports, else why not."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """The address of a two-node Ray cluster on 127.0.0.1, shared by a test module; skipped without Ray."""
    missing = ray_available()
    if missing is not None:
        pytest.skip(f"Ray is not installed (pip install 'synthgap[ray]'): {missing}")
    address = start_cluster(tmp_path_factory.mktemp("ray-cluster"))
    try:
        yield address
    finally:
        stop_cluster()
