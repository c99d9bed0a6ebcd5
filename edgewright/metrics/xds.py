"""Prometheus metrics of the xDS control plane, added around the ADS server without changing how it works.

`InstrumentedDiscovery` is the ADS servicer with counting around its stream loop and responses;
`InstrumentedWatcher` is the source watcher with counting around each reload. `serve_metrics` publishes them.
"""

from __future__ import annotations

import contextlib
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from edgewright.metrics.exposition import serve_metrics
from edgewright.xds.server import AggregatedDiscovery, SnapshotCache, SourceWatcher


class XdsMetrics:
    """The control plane's metrics, in a registry of their own (no process-global state)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.node_connected = Gauge(
            "edgewright_xds_node_connected",
            "Open ADS streams of a node (1 while its Envoy is connected)",
            ["node"],
            registry=self.registry,
        )
        self.responses = Counter(
            "edgewright_xds_responses",
            "Discovery responses sent, by node and resource type",
            ["node", "type"],
            registry=self.registry,
        )
        self.nacks = Counter(
            "edgewright_xds_nacks",
            "Discovery responses a node rejected (NACK), by node and resource type",
            ["node", "type"],
            registry=self.registry,
        )
        self.refused = Counter(
            "edgewright_xds_refused_streams",
            "ADS streams refused or ended, by reason (no_node_certificate, node_id_mismatch, no_node_id, "
            "certificate_expired)",
            ["reason"],
            registry=self.registry,
        )
        self.source_reloads = Counter(
            "edgewright_xds_source_reloads",
            "Reloads of the source file, by result (ok: taken, error: refused, the last good kept)",
            ["result"],
            registry=self.registry,
        )
        self.source_ok = Gauge(
            "edgewright_xds_source_ok",
            "1 when the source file as it is now was taken, 0 when its last edit was refused",
            registry=self.registry,
        )
        self.source_loaded = Gauge(
            "edgewright_xds_source_last_load_timestamp_seconds",
            "When a source was last taken (Unix time)",
            registry=self.registry,
        )
        self.source_reloads.labels("ok")
        self.source_reloads.labels("error")
        for reason in ("no_node_certificate", "node_id_mismatch", "no_node_id", "certificate_expired"):
            self.refused.labels(reason)


def _type_name(type_url: str) -> str:
    """The short resource type name ('Listener') of a type URL."""
    return type_url.rsplit(".", 1)[-1]


class InstrumentedDiscovery(AggregatedDiscovery):
    """The ADS servicer, counting streams, responses and NACKs per node, and refused streams by reason.

    A node's series go when the cache forgets the node (it left and the source does not name it), so
    node ids that come and go do not grow the registry.
    """

    def __init__(
        self, cache: SnapshotCache, metrics: XdsMetrics, *, insecure_plaintext: bool = False
    ) -> None:
        super().__init__(cache, insecure_plaintext=insecure_plaintext)
        self._metrics = metrics
        self._series_lock = threading.Lock()
        self._series: dict[str, set[str]] = {}  # node -> the resource types it has series of

    def _response(self, node_id, current, type_url, state):
        response = super()._response(node_id, current, type_url, state)
        self._count(self._metrics.responses, node_id, type_url)
        return response

    def _nacked(self, node_id: str, type_url: str) -> None:
        self._count(self._metrics.nacks, node_id, type_url)

    def _count(self, counter: Counter, node_id: str, type_url: str) -> None:
        with self._series_lock:
            self._series.setdefault(node_id, set()).add(_type_name(type_url))
            counter.labels(node_id, _type_name(type_url)).inc()

    def _stream_opened(self, node_id: str) -> None:
        with self._series_lock:
            self._series.setdefault(node_id, set())
            self._metrics.node_connected.labels(node_id).inc()

    def _stream_closed(self, node_id: str, forgotten: bool) -> None:
        with self._series_lock:
            self._metrics.node_connected.labels(node_id).dec()
            if not forgotten:
                return
            self._metrics.node_connected.remove(node_id)
            for type_name in self._series.pop(node_id, ()):
                for counter in (self._metrics.responses, self._metrics.nacks):
                    # A node may have had responses of a type but no NACKs of it.
                    with contextlib.suppress(KeyError):
                        counter.remove(node_id, type_name)

    def _refused(self, reason: str) -> None:
        self._metrics.refused.labels(reason).inc()


class InstrumentedWatcher(SourceWatcher):
    """The source watcher, counting reloads that were taken and edits that were refused."""

    def __init__(self, path, cache: SnapshotCache, metrics: XdsMetrics, **kwargs) -> None:
        super().__init__(path, cache, **kwargs)
        self._metrics = metrics
        self._report = self._on_error
        self._on_error = self._refused

    def _refused(self, message: str) -> None:
        self._metrics.source_reloads.labels("error").inc()
        self._metrics.source_ok.set(0)
        self._report(message)

    def poll(self) -> bool:
        taken = super().poll()
        if taken:
            self._metrics.source_reloads.labels("ok").inc()
            self._metrics.source_ok.set(1)
            self._metrics.source_loaded.set(time.time())
        return taken


def instrumented(
    source_path, cache: SnapshotCache, listen: str, *, insecure_plaintext: bool = False
) -> tuple[SourceWatcher, AggregatedDiscovery]:
    """A counting watcher and servicer for `xds serve`, their metrics served on LISTEN."""
    metrics = XdsMetrics()
    serve_metrics(metrics.registry, listen)
    return InstrumentedWatcher(source_path, cache, metrics), InstrumentedDiscovery(
        cache, metrics, insecure_plaintext=insecure_plaintext
    )
