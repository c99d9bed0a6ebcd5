"""Controller-side work runs as the operator: no task that runs on the controller inherits a play's become.

A task delegated to localhost that became root would read and write root's home (another verifier store,
another kubeconfig) and need sudo on the controller; edgewright's own controller steps are action plugins,
which never become, and so need no delegation at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TASK_FILES = sorted(
    [*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("roles/*/handlers/*.yml"), *ROOT.glob("playbooks/*.yml")]
)
ACTIONS = {path.stem for path in (ROOT / "plugins" / "action").glob("*.py")}


def tasks(items, become=None):
    """Every task in ITEMS (plays, blocks, tasks) with the become it runs with, None when inherited."""
    for item in items or []:
        if not isinstance(item, dict):
            continue
        own = item.get("become", become)
        for key in ("block", "rescue", "always"):
            yield from tasks(item.get(key), own)
        for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            yield from tasks(item.get(key), item.get("become"))
        if not any(key in item for key in ("block", "tasks", "hosts")):
            yield item, own


def findings(document) -> list[str]:
    found = []
    for task, become in tasks(document):
        name = task.get("name", "?")
        if task.get("delegate_to") == "localhost" and become is not False:
            found.append(f"{name}: delegated to localhost without become: false")
        if ACTIONS & set(task) and ("delegate_to" in task or "become" in task):
            found.append(
                f"{name}: an action plugin runs on the controller already (no delegate_to, no become)"
            )
    return found


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_controller_task_becomes_root(path):
    assert findings(yaml.safe_load(path.read_text())) == []


def test_a_delegated_task_that_would_become_root_is_caught():
    play = [
        {"hosts": "all", "become": True, "tasks": [{"name": "k", "delegate_to": "localhost", "stat": {}}]}
    ]
    assert findings(play) == ["k: delegated to localhost without become: false"]
    block = [{"block": [{"name": "k", "delegate_to": "localhost", "stat": {}}], "become": False}]
    assert findings(block) == []
    action = [{"name": "a", "attest_verifier": {}, "delegate_to": "localhost", "become": False}]
    assert findings(action) == [
        "a: an action plugin runs on the controller already (no delegate_to, no become)"
    ]


def test_the_task_files_are_found():
    assert len(TASK_FILES) > 40 and "attest_verifier" in ACTIONS
