"""Stage this tree as the edgewright.edge collection and build it with `ansible-galaxy collection build`.

In the tree, Ansible finds the project's content through ansible.cfg (library, module_utils, filter_plugins,
roles_path) by short names, and the tests, Molecule and scripts/up use it so. A collection holds the same
files in Ansible's collection layout (library/ becomes plugins/modules/), where three kinds of name must
go through the collection:
- a module's import of a project module_utils: no module_utils path is configured where the collection is
  installed, so `ansible.module_utils.tpm` becomes `ansible_collections.edgewright.edge.plugins.module_utils.tpm`;
- a project filter in a role, a template or a playbook: Ansible looks short filter names up in
  ansible.builtin only, even inside the collection's own roles, so `| mesh_endpoints` becomes
  `| edgewright.edge.mesh_endpoints`;
- a project module named as a mapping key of a task (its action, or a module_defaults entry):
  module_defaults never search the collection, so `mesh_election:` becomes `edgewright.edge.mesh_election:`
  there, and in a task's action alike (where the collection would find it anyway): one rule for both.
Staging rewrites exactly those names, then checks that none is left unqualified in a form the rewrite does
not know, so such a form fails the build, naming the file, instead of a site's run.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from edgewright.errors import EdgewrightError

# The collection's own files in the tree (galaxy.yml, its README and changelog, meta/).
SOURCE = "collection"
# Never part of the collection: tests, caches, editor and tool leftovers.
SKIPPED_DIRS = {"__pycache__", "tests", "molecule"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".retry", "~", ".orig", ".rej")
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


class CollectionError(EdgewrightError):
    """The tree cannot be built as the collection; the message says what to change."""


@dataclass(frozen=True)
class Names:
    """The collection's name and the project's short names its files must qualify."""

    collection: str  # NAMESPACE.NAME
    module_utils: frozenset[str]
    modules: frozenset[str]  # modules and action plugins, as tasks name them
    filters: frozenset[str]

    @property
    def prefix(self) -> str:
        return self.collection + "."

    @property
    def module_utils_package(self) -> str:
        return f"ansible_collections.{self.collection}.plugins.module_utils"


@dataclass(frozen=True)
class Release:
    """What galaxy.yml and pyproject.toml say about this release."""

    namespace: str
    name: str
    version: str
    package: str  # the Python package the controller-side plugins import

    @property
    def collection(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def tarball(self) -> str:
        return f"{self.namespace}-{self.name}-{self.version}.tar.gz"


def read_release(tree: Path) -> Release:
    """The collection's release, refused when it is not the Python package's: the action plugins import
    that package, so the two are released together under one version."""
    galaxy_file = tree / SOURCE / "galaxy.yml"
    if not galaxy_file.is_file():
        raise CollectionError(f"{galaxy_file} not found: build the collection from an edgewright checkout")
    galaxy = yaml.safe_load(galaxy_file.read_text()) or {}
    project = tomllib.loads((tree / "pyproject.toml").read_text())["project"]
    missing = [key for key in ("namespace", "name", "version") if not galaxy.get(key)]
    if missing:
        raise CollectionError(f"{SOURCE}/galaxy.yml lacks {', '.join(missing)}")
    if str(galaxy["version"]) != project["version"]:
        raise CollectionError(
            f"{SOURCE}/galaxy.yml has version {galaxy['version']}, pyproject.toml {project['version']}: "
            "the collection goes with the package of its own version, give both the same"
        )
    return Release(galaxy["namespace"], galaxy["name"], str(galaxy["version"]), project["name"])


def filter_names(source: str, where: str) -> set[str]:
    """The filter names a filter plugin's FilterModule.filters() returns (a dict literal)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name == "FilterModule"):
            continue
        for method in node.body:
            if isinstance(method, ast.FunctionDef) and method.name == "filters":
                for found in ast.walk(method):
                    if isinstance(found, ast.Return) and isinstance(found.value, ast.Dict):
                        names |= {
                            key.value
                            for key in found.value.keys
                            if isinstance(key, ast.Constant) and isinstance(key.value, str)
                        }
    if not names:
        raise CollectionError(
            f"{where}: cannot read its filter names: FilterModule.filters() must return a dict literal"
        )
    return names


def find_names(tree: Path, collection: str) -> Names:
    """The short names of the tree's module_utils, modules, action plugins and filters."""

    def stems(directory: str) -> set[str]:
        return {path.stem for path in (tree / directory).glob("*.py") if path.stem != "__init__"}

    filters: set[str] = set()
    for path in sorted((tree / "plugins" / "filter").glob("*.py")):
        filters |= filter_names(path.read_text(), str(path.relative_to(tree)))
    return Names(
        collection=collection,
        module_utils=frozenset(stems("plugins/module_utils")),
        modules=frozenset(stems("library") | stems("plugins/action")),
        filters=frozenset(filters),
    )


def _any_of(names: frozenset[str]) -> str:
    # Longest first, so a name that begins another never takes its place.
    return "|".join(sorted(map(re.escape, names), key=len, reverse=True)) or r"(?!)"


# --- Python: module_utils imports ----------------------------------------------------------------------


def qualify_imports(source: str, names: Names) -> str:
    """SOURCE with each `ansible.module_utils.X` of a project module_utils X taken from the collection."""
    pattern = re.compile(rf"(?<![\w.])ansible\.module_utils\.({_any_of(names.module_utils)})(?!\w)")
    return pattern.sub(lambda m: f"{names.module_utils_package}.{m.group(1)}", source)


def unqualified_imports(source: str, names: Names) -> list[str]:
    """The imports of a project module_utils that still go through ansible.module_utils, by line."""
    left = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported = [node.module]
            if node.module == "ansible.module_utils":
                imported = [f"ansible.module_utils.{alias.name}" for alias in node.names]
        else:
            continue
        for name in imported:
            parts = name.split(".")
            if parts[:2] == ["ansible", "module_utils"] and len(parts) > 2 and parts[2] in names.module_utils:
                left.append(f"line {node.lineno} imports {name} (write `from {name} import ...`)")
    return left


# --- YAML and templates: filters and actions -----------------------------------------------------------


def qualify_filters(text: str, names: Names) -> str:
    """TEXT (YAML or a Jinja template) with each project filter applied (`| f`) or mapped (`map('f')`) by
    its collection name."""
    any_filter = _any_of(names.filters)
    applied = re.compile(rf"(\|[ \t]*)({any_filter})(?![\w.])")
    mapped = re.compile(rf"(\bmap\(\s*)(['\"])({any_filter})\2")
    text = applied.sub(lambda m: f"{m.group(1)}{names.prefix}{m.group(2)}", text)
    return mapped.sub(lambda m: f"{m.group(1)}{m.group(2)}{names.prefix}{m.group(3)}{m.group(2)}", text)


def unqualified_filters(text: str, names: Names, *, yaml_comments: bool = False) -> list[str]:
    """Where TEXT still names a project filter by its short name, by line; with YAML_COMMENTS, a YAML
    comment that mentions one is no use of it."""
    pattern = re.compile(rf"(?<![\w.])({_any_of(names.filters)})(?!\w)")
    lines = text.splitlines()
    if yaml_comments:
        lines = [re.split(r"(?:^|\s)#", line, maxsplit=1)[0] for line in lines]
    return [
        f"line {number} names the filter {match.group(1)} unqualified"
        for number, line in enumerate(lines, 1)
        for match in pattern.finditer(line)
    ]


def qualify_actions(text: str, names: Names) -> str:
    """TEXT (a task file or playbook) with each project module named as a block mapping key (a task's
    action, a module_defaults entry) by its collection name."""
    key = re.compile(rf"^([ \t]*(?:-[ \t]+)?)({_any_of(names.modules)})([ \t]*:)(?=[ \t]|$)", re.M)
    return key.sub(lambda m: f"{m.group(1)}{names.prefix}{m.group(2)}{m.group(3)}", text)


class _AnsibleYaml(yaml.SafeLoader):
    """YAML as Ansible reads it: its own tags (!unsafe, !vault) read as the plain value they tag."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_AnsibleYaml.add_multi_constructor("!", _untagged)


def _action_names(data) -> Iterator[str]:
    """Every mapping key in DATA, and the module of each `action:`/`local_action:` string."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            if key in ("action", "local_action") and isinstance(value, str) and value.split():
                yield value.split()[0]
            yield from _action_names(value)
    elif isinstance(data, list):
        for item in data:
            yield from _action_names(item)


def unqualified_actions(text: str, names: Names) -> list[str]:
    """The project modules a task file or playbook still names by their short names (flow mappings,
    `action:` strings: forms qualify_actions leaves)."""
    found = sorted({name for name in _action_names(yaml.load(text, _AnsibleYaml)) if name in names.modules})
    return [f"names the module {name} unqualified (write it as a block mapping key)" for name in found]


# --- Staging -------------------------------------------------------------------------------------------


def layout(tree: Path) -> Iterator[tuple[str, str]]:
    """Each directory of the tree that goes into the collection, with its place there."""
    yield "library", "plugins/modules"
    for plugins in sorted((tree / "plugins").iterdir()):
        if plugins.is_dir() and plugins.name not in SKIPPED_DIRS and not plugins.name.startswith("."):
            yield f"plugins/{plugins.name}", f"plugins/{plugins.name}"
    yield "roles", "roles"
    yield "playbooks", "playbooks"


def content_files(directory: Path) -> Iterator[Path]:
    """The files under DIRECTORY that belong in a release: no tests, caches or hidden files."""
    for top, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and not name.endswith(SKIPPED_SUFFIXES):
                yield Path(top) / name


def _is_task_file(relative: Path) -> bool:
    parts = relative.parts
    return parts[0] == "playbooks" or (
        parts[0] == "roles" and len(parts) > 2 and parts[2] in ("tasks", "handlers")
    )


def staged_text(relative: Path, text: str, names: Names) -> tuple[str, list[str]]:
    """The collection's copy of the tree's file RELATIVE (a path inside the collection), and what in it
    is still unqualified."""
    left: list[str] = []
    if relative.suffix == ".py":
        text = qualify_imports(text, names)
        left += unqualified_imports(text, names)
    elif relative.parts[0] in ("roles", "playbooks") and relative.suffix in (".yml", ".yaml", ".j2"):
        if relative.suffix != ".j2" and _is_task_file(relative):
            text = qualify_actions(text, names)
            left += unqualified_actions(text, names)
        text = qualify_filters(text, names)
        left += unqualified_filters(text, names, yaml_comments=relative.suffix != ".j2")
    return text, left


def stage(tree: Path, dest: Path) -> Release:
    """Write the collection made from TREE into DEST (galaxy.yml at its top), its names qualified."""
    release = read_release(tree)
    names = find_names(tree, release.collection)
    problems: list[str] = []
    for source_dir, target_dir in layout(tree):
        for path in content_files(tree / source_dir):
            relative = Path(target_dir) / path.relative_to(tree / source_dir)
            where = path.relative_to(tree)
            data = path.read_bytes()
            if PRIVATE_KEY.search(data):
                problems.append(f"{where}: holds a private key")
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative.suffix in (".py", ".yml", ".yaml", ".j2"):
                text, left = staged_text(relative, data.decode(), names)
                problems += [f"{where}: {problem}" for problem in left]
                target.write_text(text)
            else:
                target.write_bytes(data)
            shutil.copymode(path, target)
    for path in content_files(tree / SOURCE):
        target = dest / path.relative_to(tree / SOURCE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    # The controller-side plugins' Python dependency, for pip and ansible-builder (meta/execution-environment.yml).
    (dest / "requirements.txt").write_text(f"{release.package}=={release.version}\n")
    if problems:
        raise CollectionError("the tree cannot be built as the collection:\n  " + "\n  ".join(problems))
    return release


def ansible_galaxy() -> str:
    """The ansible-galaxy of this Python's Ansible, else the one on PATH."""
    beside = Path(sys.executable).with_name("ansible-galaxy")
    found = str(beside) if beside.is_file() else shutil.which("ansible-galaxy")
    if not found:
        raise CollectionError("ansible-galaxy not found: install ansible-core (edgewright depends on it)")
    return found


def build(tree: Path, output: Path) -> Path:
    """Build the collection from TREE into OUTPUT (replacing a tarball of the same version); its path."""
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgewright-collection-") as staging:
        root = Path(staging) / "collection"
        release = stage(tree, root)
        done = subprocess.run(
            [ansible_galaxy(), "collection", "build", "--force", "--output-path", str(output), str(root)],
            cwd=staging,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise CollectionError(
            f"ansible-galaxy collection build failed: {(done.stderr or done.stdout).strip()}"
        )
    return output / release.tarball
