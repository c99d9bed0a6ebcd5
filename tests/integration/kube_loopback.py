"""A Kubernetes control plane on loopback for tests that need a real API server but no lab nodes: etcd,
kube-apiserver and kube-controller-manager from the built binaries, on ports of the test's own."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgewright.lab.kube import ControlPlane, ControlPlaneError, ControlPlaneSpec, Ports, binaries_dir
from edgewright.twins import kube


@contextlib.contextmanager
def control_plane(name: str, state: Path, port_base: int) -> Iterator[str]:
    """Run the control plane NAME with its state in STATE; yields its admin kubeconfig, and stops every
    process it started, even when the test fails."""
    missing = [b for b in ("kube-apiserver", "kube-controller-manager") if not (binaries_dir() / b).is_file()]
    if missing:
        pytest.skip(f"Kubernetes is not built ({', '.join(missing)}): run scripts/setup")
    spec = ControlPlaneSpec(name, "127.0.0.1", state, Ports(port_base))
    plane = ControlPlane(spec, log=lambda line: None)
    try:
        # ControlPlane.up can take a component that has not exec'd yet for one that died (its pid file
        # names a process whose command line is still the parent's); up is idempotent, so try again, and
        # then wait for the API server itself, since a second up does not wait for what already runs.
        for attempt in range(3):
            try:
                plane.up()
                break
            except ControlPlaneError:
                if attempt == 2:
                    raise
        wait_ready(str(spec.admin_kubeconfig))
        yield str(spec.admin_kubeconfig)
    finally:
        started = processes_of(spec.state)
        plane.down()
        # down() only signals; the API server takes a while to stop, and the next run needs its port.
        deadline = time.monotonic() + 10
        while started and time.monotonic() < deadline:
            started = [pid for pid in started if running(pid)]
            time.sleep(0.5)
        for pid in started:
            os.kill(pid, signal.SIGKILL)


def wait_ready(kubeconfig: str, timeout_s: float = 90) -> None:
    import urllib3
    from kubernetes.client.exceptions import ApiException

    client = kube.connect(kubeconfig)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.request("get", "/readyz") == "ok":
                return
        except (ApiException, urllib3.exceptions.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"the API server was not ready within {timeout_s:.0f} s")
        time.sleep(0.3)


def running(pid: int) -> bool:
    """Whether a process started here still runs; reaps it when it has exited (it is this process's child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:  # not our child: look at it instead
        return Path(f"/proc/{pid}").exists()


def processes_of(state: Path) -> list[int]:
    """The control plane processes started for STATE: their command lines name its state directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(state).encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids
