"""Prometheus metrics of the xDS control plane, added around the ADS server without changing how it works.

`InstrumentedDiscovery` is the ADS servicer with counting around its stream loop and responses;
`InstrumentedWatcher` is the source watcher with counting around each reload. `serve_metrics` publishes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

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


def _type_name(type_url: str) -> str:
    """The short resource type name ('Listener') of a type URL."""
    return type_url.rsplit(".", 1)[-1]


class InstrumentedDiscovery(AggregatedDiscovery):
    """The ADS servicer, counting streams, responses and NACKs per node."""

    def __init__(self, cache: SnapshotCache, metrics: XdsMetrics) -> None:
        super().__init__(cache)
        self._metrics = metrics
        self._local = threading.local()  # the node of the stream this worker thread serves

    def StreamAggregatedResources(self, request_iterator, context) -> Iterator:
        stream = _StreamRequests(request_iterator, self._metrics)
        self._local.stream = stream
        try:
            yield from super().StreamAggregatedResources(stream, context)
        finally:
            stream.closed()

    def _response(self, current, type_url, state):
        response = super()._response(current, type_url, state)
        stream = getattr(self._local, "stream", None)
        if stream is not None and stream.node_id:
            self._metrics.responses.labels(stream.node_id, _type_name(type_url)).inc()
        return response


class _StreamRequests:
    """One stream's requests as they pass: learns the node, marks it connected, counts its NACKs."""

    def __init__(self, requests, metrics: XdsMetrics) -> None:
        self._requests = requests
        self._metrics = metrics
        self.node_id = ""
        self._lock = threading.Lock()
        self._open = True

    def __iter__(self):
        for request in self._requests:
            with self._lock:
                if not self.node_id and request.node.id and self._open:
                    self.node_id = request.node.id
                    self._metrics.node_connected.labels(self.node_id).inc()
            if request.HasField("error_detail") and self.node_id:
                self._metrics.nacks.labels(self.node_id, _type_name(request.type_url)).inc()
            yield request

    def closed(self) -> None:
        with self._lock:
            self._open = False
            if self.node_id:
                self._metrics.node_connected.labels(self.node_id).dec()


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


def instrumented(source_path, cache: SnapshotCache, listen: str) -> tuple[SourceWatcher, AggregatedDiscovery]:
    """A counting watcher and servicer for `xds serve`, their metrics served on LISTEN."""
    metrics = XdsMetrics()
    serve_metrics(metrics.registry, listen)
    return InstrumentedWatcher(source_path, cache, metrics), InstrumentedDiscovery(cache, metrics)
