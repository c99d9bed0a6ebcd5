"""Cluster services follow the cluster: the endpoints of the Services the source names, from the cluster.

The control plane lists and watches Services and EndpointSlices (read-only: get, list and watch on both,
nothing else; see `RBAC`) and hands each followed Service port's ready endpoints to the snapshot cache,
which pushes them to the nodes over EDS. A pod that moves is reached at its new address without a file
or an Ansible run changing.

What the cluster says is data, checked like any other input: an endpoint must be an IP address, and only
endpoints whose slice port matches the Service port (by name and protocol) count.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from edgewright.xds.model import Endpoint, ServiceRef

log = logging.getLogger("edgewright.xds.kube")

# Everything the control plane's Kubernetes identity needs, as a ClusterRole to bind it to.
RBAC: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "edgewright:xds-control-plane"},
    "rules": [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        {
            "apiGroups": ["discovery.k8s.io"],
            "resources": ["endpointslices"],
            "verbs": ["get", "list", "watch"],
        },
    ],
}
SERVICE_LABEL = "kubernetes.io/service-name"


def _service_port(service: Mapping[str, Any], port: int | str) -> Mapping[str, Any] | None:
    for candidate in (service.get("spec") or {}).get("ports") or []:
        if (candidate.get("name") if isinstance(port, str) else candidate.get("port")) == port:
            return candidate
    return None


def _ip(text: Any) -> bool:
    try:
        ipaddress.ip_address(text)
    except (TypeError, ValueError):
        return False
    return True


def ready_endpoints(
    service: Mapping[str, Any] | None, slices: Iterable[Mapping[str, Any]], port: int | str
) -> tuple[Endpoint, ...]:
    """The ready endpoints of PORT (a port number or name of SERVICE) in its EndpointSlices SLICES, sorted;
    none when the Service or that port does not exist. An endpoint whose readiness is unknown counts as
    ready, as kube-proxy counts it."""
    if service is None:
        return ()
    wanted = _service_port(service, port)
    if wanted is None:
        return ()
    # A slice names its ports after the Service's (an unnamed single port is ""), with the target numbers.
    name, protocol = wanted.get("name") or "", wanted.get("protocol") or "TCP"
    found: set[Endpoint] = set()
    for piece in slices:
        if piece.get("addressType") not in ("IPv4", "IPv6"):
            continue
        numbers = [
            p.get("port")
            for p in piece.get("ports") or []
            if (p.get("name") or "") == name and (p.get("protocol") or "TCP") == protocol
        ]
        if not numbers or not isinstance(numbers[0], int) or not 1 <= numbers[0] <= 65535:
            continue
        for endpoint in piece.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            found.update(Endpoint(a, numbers[0]) for a in endpoint.get("addresses") or [] if _ip(a))
    return tuple(sorted(found, key=lambda e: (e.host, e.port)))


class ClusterView:
    """The Services and EndpointSlices of the cluster as last listed or watched, and what follows from them
    for the followed Service ports. Pure bookkeeping: the watcher feeds it, the cache takes its results."""

    def __init__(self) -> None:
        self.services: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.slices: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}

    def replace_services(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.services = {_key(s): s for s in items}

    def replace_slices(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.slices = {}
        for piece in items:
            self.apply_slice("ADDED", piece)

    def apply_service(self, kind: str, service: Mapping[str, Any]) -> None:
        if kind == "DELETED":
            self.services.pop(_key(service), None)
        else:
            self.services[_key(service)] = service

    def apply_slice(self, kind: str, piece: Mapping[str, Any]) -> None:
        meta = piece.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_LABEL)
        if not owner:
            return
        pieces = self.slices.setdefault((meta.get("namespace", ""), owner), {})
        if kind == "DELETED":
            pieces.pop(meta.get("name", ""), None)
        else:
            pieces[meta.get("name", "")] = piece

    def endpoints(self, ref: ServiceRef) -> tuple[Endpoint, ...]:
        key = (ref.namespace, ref.name)
        return ready_endpoints(self.services.get(key), self.slices.get(key, {}).values(), ref.port)


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")


class ServiceEndpointsWatcher:
    """Lists and watches Services and EndpointSlices through DYN (a kubernetes DynamicClient) and gives
    CACHE the endpoints of every Service port its source follows, as they change.

    Each kind has its own thread: list, then watch from the list's version; a watch that ends (its timeout,
    an expired version, a dropped connection) is followed by a fresh list, so nothing missed stays missed.
    """

    def __init__(
        self,
        dyn,
        cache,
        *,
        watch_timeout_s: int = 60,
        retry_s: float = 2.0,
        on_error: Callable[[str], None] = log.error,
    ) -> None:
        self._dyn = dyn
        self._cache = cache
        self._view = ClusterView()
        self._lock = threading.Lock()
        self._watch_timeout_s = watch_timeout_s
        self._retry_s = retry_s
        self._on_error = on_error
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        kinds = (
            ("v1", "Service", self._view.replace_services, self._view.apply_service),
            ("discovery.k8s.io/v1", "EndpointSlice", self._view.replace_slices, self._view.apply_slice),
        )
        for api_version, kind, replace, apply in kinds:
            thread = threading.Thread(
                target=self._list_watch, args=(api_version, kind, replace, apply), daemon=True, name=kind
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=1.0)  # a thread blocked in a watch ends with it (daemon)

    def push(self) -> list[str]:
        """Give the cache the current endpoints of every followed Service port; the nodes woken."""
        woken: set[str] = set()
        with self._lock:
            for ref in sorted(self._cache.services(), key=str):
                woken.update(self._cache.set_service_endpoints(ref, self._view.endpoints(ref)))
        return sorted(woken)

    def _list_watch(self, api_version: str, kind: str, replace, apply) -> None:
        while not self._stop.is_set():
            try:
                resource = self._dyn.resources.get(api_version=api_version, kind=kind)
                listing = self._dyn.get(resource).to_dict()
                with self._lock:
                    replace(listing.get("items") or [])
                self.push()
                version = (listing.get("metadata") or {}).get("resourceVersion")
                for event in self._dyn.watch(
                    resource, resource_version=version, timeout=self._watch_timeout_s
                ):
                    if self._stop.is_set():
                        return
                    if event["type"] == "ERROR":  # e.g. 410 Gone: the version expired; list again
                        break
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        with self._lock:
                            apply(event["type"], event["raw_object"])
                        self.push()
            except Exception as err:  # the API server is away or refuses: say so, and try again
                self._on_error(f"watching {kind}s: {type(err).__name__}: {err}")
                self._stop.wait(self._retry_s)
