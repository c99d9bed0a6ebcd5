"""Which images a twin may run: edgewright's own, the site registry's, the allowlist's; nothing else."""

from __future__ import annotations

import pytest

from edgewright.twins.device import EdgeDevice
from edgewright.twins.images import ImageError, default_image_policy, registry, repository
from edgewright.twins.manifests import TWIN_IMAGES


def device(image: str | None) -> EdgeDevice:
    return EdgeDevice("cam", "http", "http://cam", image=image)


def test_the_protocol_defaults_always_run():
    policy = default_image_policy()
    assert policy.refusal(device(None)) is None
    assert all(policy.refusal(device(image)) is None for image in TWIN_IMAGES.values())


@pytest.mark.parametrize(
    "image",
    ["evil/miner:latest", "docker.io/library/alpine", "ghcr.io/acme/twin:1", "registry.site:5000/x:1"],
)
def test_without_registry_or_allowlist_no_other_image_runs(image):
    refusal = default_image_policy().refusal(device(image))
    assert refusal == (
        f"device 'cam': image {image!r} is neither from the site registry (no site registry set) "
        "nor on the allowlist (empty)"
    )


def test_the_site_registry_s_images_run_and_no_lookalike_does():
    policy = default_image_policy("registry.site:5000")
    assert policy.refusal(device("registry.site:5000/twins/http:1")) is None
    assert policy.refusal(device("registry.site:5000/twins/http@sha256:" + "a" * 64)) is None
    for lookalike in ["registry.site/twins/http:1", "registry.site:5001/x"]:
        refusal = policy.refusal(device(lookalike))
        assert "is neither from the site registry (the site registry registry.site:5000)" in refusal
    assert "is not an image reference" in policy.refusal(device("registry.site:5000.evil.io/x"))


def test_the_allowlist_holds_repositories_and_prefixes():
    policy = default_image_policy(None, ["ghcr.io/acme/twin", "quay.io/vendor/"])
    assert policy.refusal(device("ghcr.io/acme/twin:2")) is None
    assert policy.refusal(device("quay.io/vendor/opcua:1")) is None
    assert policy.refusal(device("ghcr.io/acme/twin-evil:2")) is not None
    assert policy.refusal(device("quay.io/vendorx/opcua:1")) is not None


@pytest.mark.parametrize(
    "image", ["", "UPPER/case", "a b", "x:tag with space", "$(touch /tmp/x)", "x@md5:00"]
)
def test_what_is_not_an_image_reference_is_named(image):
    assert "is not an image reference" in default_image_policy("r.site").refusal(device(image))


@pytest.mark.parametrize(
    ("site_registry", "allowed", "problem"),
    [
        ("http://r.site", [], "site registry 'http://r.site' is not host[:port]"),
        (None, ["ghcr.io/acme/twin:1"], "allowed image 'ghcr.io/acme/twin:1' is neither a repository"),
        (None, ["ghcr.io/acme"], None),
        (None, ["*"], "allowed image '*'"),
    ],
)
def test_a_bad_policy_is_named(site_registry, allowed, problem):
    if problem is None:
        default_image_policy(site_registry, allowed)
        return
    with pytest.raises(ImageError, match=problem.replace("[", r"\[").replace("(", r"\(")):
        default_image_policy(site_registry, allowed)


def test_references_parse_as_the_distribution_spec_has_them():
    assert repository("registry.site:5000/a/b:1") == "registry.site:5000/a/b"
    assert registry("registry.site:5000/a/b:1") == "registry.site:5000"
    assert registry("edgehub/deviceshifu-http-http:v0.0.1") == "docker.io"
    assert registry("localhost/x") == "localhost"
