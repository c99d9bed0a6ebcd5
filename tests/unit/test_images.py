"""The image catalog and the digests file: what is built from what, and how images are pinned."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from edgewright.images.catalog import RECIPES, ImageError, containerfile, select
from edgewright.images.site import PushedImage, SiteRegistry, read_digests, write_digests


def test_references_map_to_repositories_of_the_site_registry():
    pause = RECIPES["pause"]
    assert (pause.registry, pause.repository, pause.tag) == ("registry.k8s.io", "pause", "3.10")
    assert RECIPES["hello"].registry == "edgewright.io"


def test_images_are_built_from_scratch_and_run_unprivileged():
    text = containerfile(RECIPES["pause"])
    assert text.splitlines()[0] == "FROM scratch"
    assert "USER 65534:65534" in text and 'ENTRYPOINT ["/pause"]' in text


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_program_builds_static(tmp_path, name):
    RECIPES[name].build(tmp_path)
    binary = tmp_path / RECIPES[name].repository.rsplit("/", 1)[-1]
    assert binary.is_file()
    # Nothing to load at run time: the image holds this one file.
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr


def test_pause_answers_its_version_and_ends_on_sigterm(tmp_path):
    RECIPES["pause"].build(tmp_path)
    assert "pause" in subprocess.run([tmp_path / "pause", "-v"], capture_output=True, text=True).stdout
    proc = subprocess.Popen([tmp_path / "pause"], stderr=subprocess.DEVNULL)
    # Only once it handles SIGTERM (the bit of signal 15 in the caught mask), as it does from its start.
    for _ in range(200):
        caught = next(
            line
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
            if line.startswith("SigCgt")
        )
        if int(caught.split()[1], 16) & (1 << 14):
            break
        time.sleep(0.01)
    proc.terminate()
    assert proc.wait(timeout=10) == 0


def test_a_changed_recipe_has_another_fingerprint():
    pause = RECIPES["pause"]
    assert pause.fingerprint() == RECIPES["pause"].fingerprint()
    assert replace(pause, reference="registry.k8s.io/pause:3.11").fingerprint() != pause.fingerprint()


def test_unknown_image_names_are_refused_with_the_catalog():
    with pytest.raises(
        ImageError, match="no image called nginx: the catalog has pause, hello, coredns, lookup"
    ):
        select(["pause", "nginx"])
    assert list(select(None)) == list(RECIPES)


def test_pinned_reference_replaces_the_tag_by_the_digest():
    image = PushedImage("registry.k8s.io/pause:3.10", "sha256:" + "a" * 64, "f")
    assert image.pinned == "registry.k8s.io/pause@sha256:" + "a" * 64


def test_digests_file_round_trips_and_a_foreign_file_is_named(tmp_path):
    path = tmp_path / "digests.json"
    images = {"pause": PushedImage("registry.k8s.io/pause:3.10", "sha256:" + "b" * 64, "f")}
    write_digests(path, images)
    assert read_digests(path) == images
    path.write_text('{"pause": {"image": 1}}')
    with pytest.raises(ImageError, match=re.escape(f"the digests file {path} is not")):
        read_digests(path)


@pytest.mark.parametrize("address", ["https://10.0.0.1:5001", "host:port", "a b:1"])
def test_registry_address_must_be_host_and_port(tmp_path, address):
    (tmp_path / "ca.crt").write_text("x")
    with pytest.raises(ImageError, match="is not HOST:PORT"):
        SiteRegistry(address, tmp_path).validate()


def test_registry_needs_the_site_ca(tmp_path):
    with pytest.raises(ImageError, match=r"has no ca\.crt"):
        SiteRegistry("10.0.0.1:5001", Path(tmp_path)).validate()


def test_coredns_binds_port_53_as_nobody_by_its_file_capability_alone(tmp_path):
    RECIPES["coredns"].build(tmp_path)
    # The only capability the file carries is CAP_NET_BIND_SERVICE (bit 10 of the permitted set).
    capability = os.getxattr(tmp_path / "coredns", "security.capability")
    assert int.from_bytes(capability[4:8], "little") == 1 << 10 and not any(capability[8:])
    assert "USER 65534:65534" in containerfile(RECIPES["coredns"])
    assert RECIPES["coredns"].reference == "registry.k8s.io/coredns/coredns:v1.14.7"


def test_lookup_resolves_through_the_resolver_and_names_a_failure(tmp_path):
    RECIPES["lookup"].build(tmp_path)
    ok = subprocess.run([tmp_path / "lookup", "localhost"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("localhost 127.0.0.1")
    bad = subprocess.run(
        [tmp_path / "lookup", "localhost", "nothing.invalid"], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "nothing.invalid failed:" in bad.stdout
