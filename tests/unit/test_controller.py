"""The controller adapter's pieces: where the operator's directories are."""

from __future__ import annotations

from pathlib import Path

from edgewright.controller.dirs import Directories


def test_the_defaults_are_under_the_operators_home():
    dirs = Directories.from_environment({})
    assert dirs.home == Path.home() / ".cache" / "edgewright"
    assert dirs.state == Path.home() / ".local" / "state" / "edgewright"
    assert dirs.verifier == dirs.state / "verifier"


def test_the_environment_names_the_cache_and_the_verifier():
    dirs = Directories.from_environment({"EDGEWRIGHT_HOME": "/h", "EDGEWRIGHT_VERIFIER_DIR": "/v"})
    assert dirs == Directories(Path("/h"), Path.home() / ".local" / "state" / "edgewright", Path("/v"))


def test_the_inventory_overrides_the_environment():
    env = {"EDGEWRIGHT_VERIFIER_DIR": "/v"}
    assert Directories.from_vars({"edgewright_verifier_dir": "/inv/v"}, env).verifier == Path("/inv/v")
    # As the roles' defaults take it: a state directory alone does not move the verifier.
    assert Directories.from_vars({"edgewright_state_dir": "/inv/s"}, env).verifier == Path("/v")
    assert Directories.from_vars({}, env).verifier == Path("/v")
    assert Directories.from_vars({"edgewright_state_dir": "~/s"}, {}).state == Path.home() / "s"
