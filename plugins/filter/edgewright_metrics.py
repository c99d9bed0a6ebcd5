"""Filters for the metrics roles: the Prometheus scrape jobs of a cloudlet, from its inventory
(`edgewright.metrics.scrape`)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from edgewright.metrics.scrape import ScrapeError, hosts_from_inventory, scrape_configs

    _IMPORT_ERROR: ImportError | None = None
except ImportError as err:  # reported when a filter is used, so unrelated plays still run
    _IMPORT_ERROR = err


def prometheus_scrape_configs(groups: Any, hostvars: Any, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """groups | edgewright_prometheus_scrape_configs(hostvars, settings) -> the `scrape_configs` list.

    SETTINGS: node_groups, lb_group, platform_group, vip_group, node_exporter_port, envoy_metrics_port,
    xds_targets, verifier_targets.
    """
    if _IMPORT_ERROR is not None:
        raise AnsibleFilterError(
            f"the edgewright package is not importable on the controller ({_IMPORT_ERROR}); "
            "install it (pip install .) or run with PYTHONPATH set to the checkout"
        )
    settings = dict(settings)
    xds_targets = settings.pop("xds_targets", [])
    verifier_targets = settings.pop("verifier_targets", [])
    try:
        hosts = hosts_from_inventory(groups, hostvars, **settings)
        return scrape_configs(hosts, xds_targets=xds_targets, verifier_targets=verifier_targets)
    except (ScrapeError, TypeError) as err:
        raise AnsibleFilterError(f"cannot generate the scrape configuration: {err}") from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"edgewright_prometheus_scrape_configs": prometheus_scrape_configs}
