"""Prometheus metrics of the attestation verifier, read from its store at every scrape.

The verifier is a library over its store (edgewright.attest.store), with no process of its own to count in, so
the exporter reads what the verifier recorded: each node's status, when it last attested, and the evidence
log's outcomes. Nothing here writes to the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from edgewright.attest.store import Store, StoreError
from edgewright.attest.verifier import iso_to_unix

# Every status the verifier records, so a dashboard can show all of them even at zero.
STATUSES = ("enrolling", "enrolled", "attested", "quarantined", "released")


class VerifierCollector(Collector):
    """Collects the attestation results of one verifier store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator:
        store_ok = GaugeMetricFamily(
            "edgewright_verifier_store_ok", "1 when the verifier's store could be read at this scrape"
        )
        try:
            records = self.store.nodes()
            corrupt = self.store.corrupt_records()
            evidence = self.store.evidence()
        except (StoreError, OSError, ValueError):
            store_ok.add_metric([], 0)
            yield store_ok
            return
        store_ok.add_metric([], 1)
        yield store_ok
        unreadable = GaugeMetricFamily(
            "edgewright_verifier_corrupt_records",
            "Node records of the verifier's store that cannot be read (`edgewright attest status` names them)",
        )
        unreadable.add_metric([], len(corrupt))
        yield unreadable

        status = GaugeMetricFamily(
            "edgewright_attestation_status",
            "1 for the node's current attestation status (enrolling, enrolled, attested, quarantined, released)",
            labels=["node", "status"],
        )
        since = GaugeMetricFamily(
            "edgewright_attestation_status_since_timestamp_seconds",
            "When the node entered its current status (Unix time)",
            labels=["node"],
        )
        attested = GaugeMetricFamily(
            "edgewright_attestation_last_attested_timestamp_seconds",
            "When the node's last quote matched its golden policy (Unix time)",
            labels=["node"],
        )
        nodes = GaugeMetricFamily(
            "edgewright_attestation_nodes", "Nodes known to the verifier, by status", labels=["status"]
        )
        by_status = Counter({s: 0 for s in STATUSES})
        for record in records:
            node, current = record.get("node", ""), record.get("status", "unknown")
            by_status[current] += 1
            status.add_metric([node, current], 1)
            if (t := iso_to_unix(record.get("since"))) is not None:
                since.add_metric([node], t)
            if (t := iso_to_unix(record.get("last_attested_at"))) is not None:
                attested.add_metric([node], t)
        for name, count in sorted(by_status.items()):
            nodes.add_metric([name], count)
        yield from (status, since, attested, nodes)

        events = CounterMetricFamily(
            "edgewright_attestation_events",
            "Entries of the evidence log, by outcome (enrolled, attested, quarantined, released)",
            labels=["outcome"],
        )
        for outcome, count in sorted(Counter(e.get("outcome", "unknown") for e in evidence).items()):
            events.add_metric([outcome], count)
        yield events


def verifier_registry(store: Store) -> CollectorRegistry:
    """A registry holding only the verifier's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VerifierCollector(store))
    return registry
