"""Filters for the metrics roles: the Prometheus scrape jobs of a cloudlet, from its inventory
(`edgewright.metrics.scrape`), and Prometheus's web configuration (`edgewright.metrics.webconfig`)."""

from __future__ import annotations

from typing import Any

import yaml
from ansible.errors import AnsibleFilterError

from edgewright.metrics.scrape import ScrapeError, hosts_from_inventory, scrape_configs
from edgewright.metrics.webconfig import WebConfigError, basic_auth_users, web_config


def prometheus_scrape_configs(groups: Any, hostvars: Any, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """groups | edgewright_prometheus_scrape_configs(hostvars, settings) -> the `scrape_configs` list.

    SETTINGS: node_groups, lb_group, platform_group, vip_group, node_exporter_port, envoy_metrics_port,
    excluded, xds_targets, verifier_targets.
    """
    settings = dict(settings)
    xds_targets = settings.pop("xds_targets", [])
    verifier_targets = settings.pop("verifier_targets", [])
    try:
        hosts = hosts_from_inventory(groups, hostvars, **settings)
        return scrape_configs(hosts, xds_targets=xds_targets, verifier_targets=verifier_targets)
    except (ScrapeError, TypeError) as err:
        raise AnsibleFilterError(f"cannot generate the scrape configuration: {err}") from None


def prometheus_web_config(passwords: Any, current: Any, cert_file: str, key_file: str) -> dict[str, Any]:
    """passwords | edgewright_prometheus_web_config(CURRENT, CERT_FILE, KEY_FILE) -> the web configuration.

    CURRENT is the text of the web configuration in place ('' when none): a user whose password still
    matches its hash there keeps that hash, so a second run changes nothing.
    """
    try:
        in_place = yaml.safe_load(current) if isinstance(current, str) and current else {}
    except yaml.YAMLError:
        in_place = {}
    users = in_place.get("basic_auth_users") if isinstance(in_place, dict) else None
    try:
        return web_config(cert_file, key_file, basic_auth_users(passwords, users))
    except WebConfigError as err:
        raise AnsibleFilterError(f"prometheus_web_users: {err}") from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "edgewright_prometheus_scrape_configs": prometheus_scrape_configs,
            "edgewright_prometheus_web_config": prometheus_web_config,
        }
