"""Where the controller keeps what it owns, decided in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The inventory variables that name the controller's directories (see Directories.from_vars).
DIRECTORY_VARS = ("edgewright_state_dir", "edgewright_verifier_dir")


@dataclass(frozen=True)
class Directories:
    """The operator's directories on the controller.

    home: caches that can be rebuilt (built binaries, artefacts, labs); EDGEWRIGHT_HOME.
    state: records that must outlive a run (the overlay, the nodes' probe reports); edgewright_state_dir.
    verifier: the attestation verifier's store; edgewright_verifier_dir or EDGEWRIGHT_VERIFIER_DIR.
    """

    home: Path
    state: Path
    verifier: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Directories:
        """The operator's directories as the environment sets them, each with its default under ~."""
        env = os.environ if environ is None else environ
        home = Path(env.get("EDGEWRIGHT_HOME") or Path.home() / ".cache" / "edgewright").expanduser()
        state = Path(env.get("EDGEWRIGHT_STATE_DIR") or Path.home() / ".local" / "state" / "edgewright")
        verifier = Path(env.get("EDGEWRIGHT_VERIFIER_DIR") or state / "verifier")
        return cls(home=home, state=state.expanduser(), verifier=verifier.expanduser())

    @classmethod
    def from_vars(cls, variables: Mapping, environ: Mapping[str, str] | None = None) -> Directories:
        """The directories an inventory names (edgewright_state_dir, edgewright_verifier_dir), else the
        environment's. A verifier directory the inventory leaves out follows its state directory."""
        base = cls.from_environment(environ)
        state = variables.get("edgewright_state_dir")
        state = Path(str(state)).expanduser() if state else base.state
        verifier = variables.get("edgewright_verifier_dir")
        if verifier:
            verifier = Path(str(verifier)).expanduser()
        elif variables.get("edgewright_state_dir"):
            verifier = state / "verifier"
        else:
            verifier = base.verifier
        return cls(home=base.home, state=state, verifier=verifier)
