"""edge_probe_report: keep a node's probe report on the controller
(documented in library/edge_probe_report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from edgewright.controller.action import ControllerAction
from edgewright.controller.files import json_text, write_atomic
from edgewright.mesh.identity import check_name


class ActionModule(ControllerAction):
    ARGUMENT_SPEC: ClassVar[dict] = {
        "node": {"type": "str", "required": True},
        "record": {"type": "dict", "required": True},
        "dir": {"type": "path"},
    }

    def act(self, p, dirs):
        # The name becomes a file name: one that is not a plain name could write outside the directory.
        node = check_name("node", p["node"])
        path = Path(p["dir"] or dirs.state / "devices") / f"{node}.json"
        text = json_text(p["record"])
        if self.check_mode:
            try:
                changed = path.read_text() != text
            except FileNotFoundError:
                changed = True
            return {"changed": changed, "path": str(path)}
        return {"changed": write_atomic(path, text), "path": str(path)}
