"""Serving a metrics registry over HTTP in Prometheus text format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server


def serve_metrics(registry: CollectorRegistry, listen: str):
    """Serve REGISTRY in Prometheus text format on LISTEN ('host:port'); returns the HTTP server."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"metrics address {listen!r} is not host:port")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=registry)
    return server
