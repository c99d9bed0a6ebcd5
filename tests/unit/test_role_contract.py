"""The contract between roles: every variable or fact a role reads is its own (defaults, vars, argument
specs, what it registers or sets), a shared setting declared once by the edgewright_defaults role (which the
role then depends on), an Ansible magic variable, or a fact edgewright_node.ROLE that ROLE publishes and that
runs before the reader in playbooks/site.yml. A role publishes only edgewright_node.<its name>; every other
fact it sets carries its own prefix.

The roles and playbooks are parsed as they are (YAML and the Jinja in them, templates included), so a
change that breaks the contract fails here with the role, the file and the name."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.meta
import jinja2.nodes
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
PLAYBOOKS = ROOT / "playbooks"
DEFAULTS_ROLE = "edgewright_defaults"
FACT = "edgewright_node"

# Names Ansible itself provides; names of connection variables and gathered facts start with ansible_.
MAGIC = {
    "inventory_hostname",
    "inventory_hostname_short",
    "inventory_dir",
    "hostvars",
    "groups",
    "group_names",
    "omit",
    "item",
    "playbook_dir",
    "role_path",
    "role_name",
    "lookup",
    "query",
    "q",
    "now",
    "undef",
    "range",
    "dict",
    "lipsum",
    "zip",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
}
# Keys whose value Ansible evaluates as a bare Jinja expression.
CONDITIONALS = {"when", "that", "until", "changed_when", "failed_when"}
# The one extra variable the lifecycle playbooks take (scale.yml passes it).
# What a playbook takes from its caller: the nodes it is about (-e nodes=), why they are revoked
# (revoke.yml's -e reason=), and the nodes an importing playbook leaves out of mesh-peers.yml.
PLAYBOOK_INPUTS = {"nodes", "reason", "mesh_peers_excluded"}


class AnyName(dict):
    """Every filter and test name Ansible and its collections add: the checker reads, it never renders."""

    def __contains__(self, name):
        return True

    def __missing__(self, name):
        return lambda *args, **kwargs: None

    def get(self, name, default=None):
        return self[name]


ENV = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
ENV.filters, ENV.tests = AnyName(ENV.filters), AnyName(ENV.tests)


def load(path: Path):
    return yaml.safe_load(path.read_text()) if path.exists() else None


@dataclass
class Reads:
    """What some YAML or template text reads: top-level names, and the edgewright_node.ROLE keys."""

    names: dict[str, str] = field(default_factory=dict)  # name -> where
    published_reads: dict[str, str] = field(default_factory=dict)  # ROLE of edgewright_node.ROLE -> where

    def add_template(self, text: str, where: str, env: jinja2.Environment = None) -> None:
        # Regexes such as '\.' in the roles' Jinja strings make Jinja's lexer warn; Ansible renders them fine.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ast = (env or ENV).parse(text)
        # A name a template sets itself, in any branch, is its own (Jinja counts one set in an if as unset).
        own = {
            target.name
            for node in ast.find_all((jinja2.nodes.Assign, jinja2.nodes.AssignBlock, jinja2.nodes.For))
            for target in [node.target, *node.target.find_all(jinja2.nodes.Name)]
            if isinstance(target, jinja2.nodes.Name)
        } | {name.name for node in ast.find_all(jinja2.nodes.Macro) for name in node.args}
        for name in jinja2.meta.find_undeclared_variables(ast) - own:
            self.names.setdefault(name, where)
        for node in ast.find_all((jinja2.nodes.Getattr, jinja2.nodes.Getitem)):
            if isinstance(node.node, jinja2.nodes.Name) and node.node.name == FACT:
                key = (
                    node.attr if isinstance(node, jinja2.nodes.Getattr) else getattr(node.arg, "value", None)
                )
                if isinstance(key, str):
                    self.published_reads.setdefault(key, where)

    def add_value(self, value, where: str, conditional: bool = False) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                self.add_value(inner, where, key in CONDITIONALS)
        elif isinstance(value, list):
            for inner in value:
                self.add_value(inner, where, conditional)
        elif isinstance(value, str):
            if conditional:
                self.add_template("{{ " + value + " }}", where)
            elif "{{" in value or "{%" in value:
                self.add_template(value, where)
        elif isinstance(value, bool) and conditional:
            pass


def tasks_in(items):
    """Every task of a task list, blocks opened."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks_in(task.get(key))


@dataclass
class Role:
    name: str
    declared: set[str] = field(default_factory=set)
    published: set[str] = field(default_factory=set)  # ROLE keys of edgewright_node it sets
    facts_set: dict[str, str] = field(default_factory=dict)  # every other fact it sets -> where
    reads: Reads = field(default_factory=Reads)
    dependencies: list[str] = field(default_factory=list)


def option_names(specs) -> set[str]:
    return {
        name
        for entry in (specs or {}).get("argument_specs", {}).values()
        for name in entry.get("options") or {}
    }


def parse_role(name: str) -> Role:
    base = ROLES / name
    role = Role(name)
    role.declared |= set(load(base / "defaults" / "main.yml") or {})
    role.declared |= set(load(base / "vars" / "main.yml") or {})
    role.declared |= option_names(load(base / "meta" / "argument_specs.yml"))
    meta = load(base / "meta" / "main.yml") or {}
    role.dependencies = [d["role"] if isinstance(d, dict) else d for d in meta.get("dependencies") or []]
    for folder in ("defaults", "vars"):
        for path in sorted((base / folder).glob("*.yml")):
            role.reads.add_value(load(path), str(path.relative_to(ROOT)))
    delimiters = {}  # template -> the variable delimiters its task renders it with
    for folder in ("tasks", "handlers"):
        for path in sorted((base / folder).glob("*.yml")):
            where = str(path.relative_to(ROOT))
            for task in tasks_in(load(path)):
                body = {k: v for k, v in task.items() if k not in ("block", "rescue", "always")}
                role.reads.add_value(body, where)
                role.declared |= set(task.get("vars") or {})
                if task.get("register"):
                    role.declared.add(task["register"])
                if (task.get("loop_control") or {}).get("loop_var"):
                    role.declared.add(task["loop_control"]["loop_var"])
                rendering = task.get("ansible.builtin.template") or {}
                if isinstance(rendering, dict) and "variable_start_string" in rendering:
                    delimiters[rendering["src"]] = (
                        rendering["variable_start_string"],
                        rendering["variable_end_string"],
                    )
                facts = task.get("ansible.builtin.set_fact") or task.get("set_fact") or {}
                for fact, value in facts.items() if isinstance(facts, dict) else ():
                    if fact == "cacheable":
                        continue
                    if fact == FACT:
                        role.published |= set(re.findall(r"combine\(\{\s*'(\w+)'", str(value)))
                    else:
                        role.facts_set[fact] = where
                        role.declared.add(fact)
    for path in sorted((base / "templates").rglob("*.j2")):
        start, end = delimiters.get(str(path.relative_to(base / "templates")), ("{{", "}}"))
        env = ENV.overlay(variable_start_string=start, variable_end_string=end)
        role.reads.add_template(path.read_text(), str(path.relative_to(ROOT)), env)
    return role


ALL_ROLES = {p.name: parse_role(p.name) for p in sorted(ROLES.iterdir()) if (p / "meta").is_dir()}
SHARED = option_names(load(ROLES / DEFAULTS_ROLE / "meta" / "argument_specs.yml"))


def site_order(playbook: Path = PLAYBOOKS / "site.yml", order: list[str] | None = None) -> list[str]:
    """The roles site.yml runs, in order (dependencies first), each once."""
    order = [] if order is None else order

    def add(role: str) -> None:
        for dependency in ALL_ROLES[role].dependencies:
            add(dependency)
        if role not in order:
            order.append(role)

    for play in load(playbook) or []:
        if "ansible.builtin.import_playbook" in play or "import_playbook" in play:
            target = play.get("ansible.builtin.import_playbook") or play["import_playbook"]
            site_order(playbook.parent / target, order)
            continue
        for entry in play.get("roles") or []:
            add(entry["role"] if isinstance(entry, dict) else entry)
        for task in tasks_in(play.get("tasks")):
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if key in task:
                    add(task[key]["name"])
    return order


def contract_violations(roles: dict[str, Role], shared: set[str], order: list[str]) -> list[str]:
    """Every read that breaks the contract, and every fact set outside the naming scheme."""
    problems = []
    for name in order:
        role = roles[name]
        before = {r for r in order[: order.index(name) + 1]}
        for var, where in sorted(role.reads.names.items()):
            if var in role.declared or var in MAGIC or var.startswith("ansible_") or var == FACT:
                continue
            if var in shared:
                if DEFAULTS_ROLE not in role.dependencies and name != DEFAULTS_ROLE:
                    problems.append(f"{where}: reads {var} but {name} does not depend on {DEFAULTS_ROLE}")
                continue
            problems.append(f"{where}: reads {var}, which is neither {name}'s own nor a shared setting")
        for key, where in sorted(role.reads.published_reads.items()):
            publishers = [r for r in order if key in roles[r].published]
            if not publishers:
                problems.append(f"{where}: reads {FACT}.{key}, which no role publishes")
            elif not set(publishers) & before:
                problems.append(
                    f"{where}: reads {FACT}.{key}, published by {publishers[0]} after {name} in site.yml"
                )
        problems += [
            f"{name} publishes {FACT}.{key}, not {FACT}.{name}" for key in sorted(role.published - {name})
        ]
        problems += [
            f"{where}: sets the fact {fact}, neither {FACT}.{name} nor prefixed {name}_"
            for fact, where in sorted(role.facts_set.items())
            if not fact.startswith(f"{name}_")
        ]
    return problems


def playbook_violations(shared: set[str]) -> list[str]:
    """What the lifecycle playbooks read themselves: shared settings, the roles' declared inputs, magic names
    and `nodes`; a shared setting only in a play that has edgewright_defaults (through a role it runs)."""
    inputs = set().union(*(option_names(load(ROLES / n / "meta" / "argument_specs.yml")) for n in ALL_ROLES))
    problems = []
    for path in sorted(PLAYBOOKS.glob("*.yml")):
        reads = Reads()
        declared = set(PLAYBOOK_INPUTS)
        for play in load(path) or []:
            declared |= set(play.get("vars") or {})
            roles = [e["role"] if isinstance(e, dict) else e for e in play.get("roles") or []]
            if (play.get("vars") or play.get("tasks")) and not any(
                r == DEFAULTS_ROLE or DEFAULTS_ROLE in ALL_ROLES[r].dependencies for r in roles
            ):
                own = Reads()
                own.add_value(
                    {k: play.get(k) for k in ("hosts", "vars", "tasks")}, str(path.relative_to(ROOT))
                )
                problems += [
                    f"{where}: reads {var} in a play without {DEFAULTS_ROLE}"
                    for var, where in sorted(own.names.items())
                    if var in shared
                ]
            for task in tasks_in(play.get("tasks")):
                declared |= set(task.get("vars") or {})
                if task.get("register"):
                    declared.add(task["register"])
            reads.add_value(play, str(path.relative_to(ROOT)))
        problems += [
            f"{where}: reads {var}, which is not a shared setting"
            for var, where in sorted(reads.names.items())
            if var not in declared | shared | inputs | MAGIC
            and not var.startswith("ansible_")
            and var != FACT
        ]
        for key, where in sorted(reads.published_reads.items()):
            if not any(key in role.published for role in ALL_ROLES.values()):
                problems.append(f"{where}: reads {FACT}.{key}, which no role publishes")
    return problems


def test_every_role_reads_only_what_it_declares_or_an_earlier_role_publishes():
    assert contract_violations(ALL_ROLES, SHARED, site_order()) == []


def test_every_role_outside_site_yml_keeps_the_contract_too():
    order = site_order()
    rest = [name for name in ALL_ROLES if name not in order]
    assert contract_violations(ALL_ROLES, SHARED, order + rest) == []


def test_the_playbooks_read_only_shared_settings():
    assert playbook_violations(SHARED) == []


def test_shared_settings_are_documented_once_and_defaulted_once():
    defaults = load(ROLES / DEFAULTS_ROLE / "defaults" / "main.yml")
    assert set(defaults) == SHARED
    assert all(name.startswith("edgewright_") for name in SHARED)
    specs = load(ROLES / DEFAULTS_ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert all(spec.get("description") for spec in specs.values())
    for name, role in ALL_ROLES.items():
        if name != DEFAULTS_ROLE:
            assert not role.declared & SHARED, (
                f"{name} declares shared settings again: {role.declared & SHARED}"
            )


def test_site_yml_runs_the_publishers_before_their_readers():
    order = site_order()
    assert order.index(DEFAULTS_ROLE) < order.index("device_probe")
    assert order.index("device_probe") < order.index("kubelet")
    assert order.index("mesh") < order.index("kubelet")
    assert order.index("tpm") < order.index("attest")


# The checker itself: each way of breaking the contract is caught.
def broken(role: str, **changes) -> dict[str, Role]:
    roles = {name: parse_role(name) for name in ALL_ROLES}
    target = roles[role]
    if "reads" in changes:
        for text in changes["reads"]:
            target.reads.add_template(text, f"roles/{role}/tasks/broken.yml")
    if "dependencies" in changes:
        target.dependencies = changes["dependencies"]
    if "publishes" in changes:
        target.published |= set(changes["publishes"])
    if "sets" in changes:
        target.facts_set |= {fact: f"roles/{role}/tasks/broken.yml" for fact in changes["sets"]}
    return roles


@pytest.mark.parametrize(
    ("role", "changes", "message"),
    [
        # The battery bug: a fact nothing sets.
        (
            "kubelet",
            {"reads": ["{{ edgewright_device.facts.battery.present }}"]},
            "reads edgewright_device, which",
        ),
        # Another role's own setting.
        ("kubelet", {"reads": ["{{ mesh_zone }}"]}, "reads mesh_zone, which is neither kubelet's own"),
        # A published fact of a role that runs later (the probe's TPM check read the tpm role's fact).
        (
            "device_probe",
            {"reads": ["{{ edgewright_node.tpm.mode }}"]},
            "published by tpm after device_probe",
        ),
        (
            "kubelet",
            {"reads": ["{{ edgewright_node['nothing'].x }}"]},
            "edgewright_node.nothing, which no role",
        ),
        # A shared setting read without the role that declares it.
        ("kubelet", {"dependencies": []}, "kubelet does not depend on edgewright_defaults"),
        # Facts outside the naming scheme.
        (
            "mesh",
            {"publishes": ["kubelet"]},
            "mesh publishes edgewright_node.kubelet, not edgewright_node.mesh",
        ),
        ("attest", {"sets": ["attest_status", "edgewright_mesh"]}, "sets the fact edgewright_mesh, neither"),
    ],
)
def test_a_broken_contract_is_named(role, changes, message):
    problems = contract_violations(broken(role, **changes), SHARED, site_order())
    assert any(message in p for p in problems), problems
    assert not any("attest_status" in p for p in problems)


def test_the_probe_looks_for_the_daemon_of_every_mesh_backend_the_mesh_role_installs():
    specs = load(ROLES / DEFAULTS_ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    daemons = load(ROLES / "device_probe" / "vars" / "main.yml")["device_probe_mesh_daemons"]
    mesh_packages = load(ROLES / "mesh" / "vars" / "main.yml")["mesh_packages"]
    assert set(daemons) == set(specs["edgewright_mesh_backend"]["choices"]) == set(mesh_packages)
    assert (
        daemons[load(ROLES / DEFAULTS_ROLE / "defaults" / "main.yml")["edgewright_mesh_backend"]]["command"]
        == "yggdrasil"
    )
    assert daemons["cjdns"]["command"] == load(ROLES / "mesh" / "vars" / "main.yml")["mesh_cjdroute"]
