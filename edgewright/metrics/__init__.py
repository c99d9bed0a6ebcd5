"""Prometheus metrics: what edgewright's own services expose, and the cloudlet's scrape configuration.

    edgewright.metrics.xds       the xDS control plane's metrics (connected nodes, responses, NACKs, reloads)
    edgewright.metrics.verifier  the attestation verifier's results, read from its store at each scrape
    edgewright.metrics.scrape    prometheus.yml scrape jobs generated from the Ansible inventory

Every metric name edgewright defines, including those the alert rules expect from parts still to come
(mesh overlay, device twins), is listed in docs/metrics.md.
"""
