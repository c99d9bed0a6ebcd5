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
        """The operator's directories: EDGEWRIGHT_HOME and EDGEWRIGHT_VERIFIER_DIR when set, else the
        defaults under ~ (the ones the roles' defaults name)."""
        env = os.environ if environ is None else environ
        home = Path(env.get("EDGEWRIGHT_HOME") or Path.home() / ".cache" / "edgewright").expanduser()
        state = Path.home() / ".local" / "state" / "edgewright"
        verifier = Path(env.get("EDGEWRIGHT_VERIFIER_DIR") or state / "verifier").expanduser()
        return cls(home=home, state=state, verifier=verifier)

    @classmethod
    def from_vars(cls, variables: Mapping, environ: Mapping[str, str] | None = None) -> Directories:
        """The directories an inventory names (edgewright_state_dir, edgewright_verifier_dir), each else
        the environment's or its default, as the roles' defaults take them."""
        base = cls.from_environment(environ)
        state, verifier = variables.get("edgewright_state_dir"), variables.get("edgewright_verifier_dir")
        return cls(
            home=base.home,
            state=Path(str(state)).expanduser() if state else base.state,
            verifier=Path(str(verifier)).expanduser() if verifier else base.verifier,
        )
