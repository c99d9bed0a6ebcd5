"""Run a playbook of this checkout through ansible-runner, as ansible-playbook run here would.

The run happens in the project directory with its ansible.cfg (or the operator's ANSIBLE_CONFIG), with the
ansible-playbook of edgewright's own environment. ansible-runner changes some settings for its own ends;
those that matter are put back: host keys are checked as ansible.cfg says (ansible-runner turns the check
off), facts are cached as ansible.cfg says (ansible-runner would keep them in JSON files), and the run's
environment, which it writes to disk with the command, is removed as soon as the command has started.
Ansible's whole output goes to a log under $EDGEWRIGHT_HOME/runs (the last RUNS_KEPT runs are kept); the
caller gets the events, for edgewright.playbooks.progress.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from edgewright.controller.dirs import Directories
from edgewright.errors import EdgewrightError, ExitStatus, MissingFile

RUNS_KEPT = 20


def from_here(value: str) -> str:
    """An inventory or `@FILE` of extra vars the operator named, with its path made absolute: the playbook
    runs in the project directory, not where the operator is. A host list (`a,b,`) stays as it is."""
    if value.startswith("@"):
        return "@" + str(Path(value[1:]).expanduser().absolute())
    return value if "," in value else str(Path(value).expanduser().absolute())


@dataclass(frozen=True)
class PlaybookRun:
    """What to run: a playbook and the ansible-playbook options edgewright passes on, paths as the
    operator gave them (relative to where the command runs)."""

    playbook: Path
    inventories: tuple[str, ...] = ()
    extra_vars: tuple[str, ...] = ()
    limit: str | None = None
    check: bool = False
    diff: bool = False
    verbosity: int = 0

    def options(self) -> list[str]:
        """The options given to ansible-playbook besides the inventories and the limit."""
        options = [
            arg
            for value in self.extra_vars
            for arg in ("-e", from_here(value) if value[:1] == "@" else value)
        ]
        if self.check:
            options.append("--check")
        if self.diff:
            options.append("--diff")
        return options


@dataclass(frozen=True)
class RunResult:
    """How a run ended: the playbook's exit status, ansible-runner's word for it, and the log."""

    status: int
    state: str
    log: Path


def find_playbook(name: str, root: Path) -> Path:
    """The playbook NAME names: a file, else one of ROOT's playbooks/ by file name or name (`site`)."""
    playbooks = root / "playbooks"
    for candidate in (Path(name), playbooks / name, playbooks / f"{name}.yml"):
        if candidate.is_file():
            return candidate.resolve()
    known = ", ".join(sorted(path.stem for path in playbooks.glob("*.yml"))) or "none"
    raise MissingFile(f"no playbook {name!r}: not a file, nor one of {playbooks} ({known})")


def config_file(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The Ansible configuration the run uses: the operator's ANSIBLE_CONFIG, else the project's."""
    env = os.environ if environ is None else environ
    return Path(env.get("ANSIBLE_CONFIG") or root / "ansible.cfg")


def inventory_sources(run: PlaybookRun, root: Path) -> list[str]:
    """The inventories the run uses: those given, else the ones its Ansible configuration names."""
    if run.inventories:
        return [from_here(source) for source in run.inventories]
    return [str(source) for source in _setting(root, "DEFAULT_HOST_LIST") or []]


def _setting(root: Path, name: str):
    """One of Ansible's settings, as ansible-playbook run with this configuration would see it."""
    from ansible.config.manager import ConfigManager

    return ConfigManager(str(config_file(root))).get_config_value(name)


def check_inventories(inventories: tuple[str, ...]) -> None:
    """Refuse an inventory that is not there before anything runs: ansible-runner would take a name it
    cannot find for an inventory's text, and Ansible would run on no hosts. A host list (`a,b,`) stays."""
    for source in inventories:
        if "," not in source and not Path(source).exists():
            raise MissingFile(f"no inventory {source!r}: no such file or directory")


def runs_dir() -> Path:
    return Directories.from_environment().home / "runs"


def require_ansible_playbook(path: str) -> str:
    """The ansible-playbook to run: the one of this Python's environment first (it imports edgewright's
    action plugins from there), else the first on PATH."""
    found = shutil.which("ansible-playbook", path=path)
    if found is None:
        raise EdgewrightError(
            "ansible-playbook is not installed next to this Python nor on PATH (pip install edgewright "
            "brings it; scripts/setup installs it)"
        )
    return found


def run_playbook(
    run: PlaybookRun,
    root: Path,
    on_event: Callable[[Mapping], bool],
    on_start: Callable[[Path], None] = lambda log: None,
) -> RunResult:
    """Run RUN in ROOT, passing each of ansible-runner's events to ON_EVENT (which returns whether
    ansible-runner keeps it on disk) and the log's path to ON_START before the playbook starts."""
    import ansible_runner

    check_inventories(run.inventories)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    require_ansible_playbook(path)
    envvars = {
        "PATH": path,
        "ANSIBLE_CONFIG": str(config_file(root)),
        "ANSIBLE_HOST_KEY_CHECKING": str(bool(_setting(root, "HOST_KEY_CHECKING"))),
        # The log is read in a file, not a terminal.
        "ANSIBLE_NOCOLOR": "1",
    }
    artifacts = runs_dir()
    artifacts.mkdir(parents=True, exist_ok=True, mode=0o700)
    ident = f"{time.strftime('%Y%m%dT%H%M%S')}-{run.playbook.stem}-{os.getpid()}"
    log = artifacts / ident / "stdout"

    def on_status(status: Mapping, runner_config=None) -> None:
        if status.get("status") == "running":
            # The command file holds the whole environment: the operator's secrets stay off the disk.
            (artifacts / ident / "command").unlink(missing_ok=True)
            on_start(log)

    with tempfile.TemporaryDirectory(prefix="edgewright-run-") as private:
        try:
            runner = ansible_runner.run(
                private_data_dir=private,
                project_dir=str(root),
                artifact_dir=str(artifacts),
                ident=ident,
                rotate_artifacts=RUNS_KEPT,
                playbook=str(run.playbook),
                inventory=inventory_sources(run, root),
                limit=run.limit,
                verbosity=run.verbosity or None,
                cmdline=shlex.join(run.options()) or None,
                envvars=envvars,
                # Any type but jsonfile leaves Ansible's fact cache as ansible.cfg sets it (memory by default).
                fact_cache_type="memory",
                suppress_env_files=True,
                quiet=True,
                event_handler=on_event,
                status_handler=on_status,
            )
        except ansible_runner.exceptions.AnsibleRunnerException as exc:
            raise EdgewrightError(f"ansible-runner could not start {run.playbook}: {exc}") from None
    if runner.status == "canceled":
        return RunResult(int(ExitStatus.INTERRUPTED), runner.status, log)
    return RunResult(int(runner.rc), runner.status, log)
