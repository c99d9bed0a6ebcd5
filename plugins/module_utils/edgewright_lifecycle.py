"""The lifecycle record an edge node keeps of the stages it reached (stdlib only: runs on the node).

The record lives on the node, so the node's own state says how far it got, whoever looks. A stage is
recorded once, with the time it was first reached; the node's current stage is the furthest one recorded.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

try:
    from ansible.module_utils.edgewright_files import write_json
except ImportError:  # imported as a plain module, next to edgewright_files.py
    from edgewright_files import write_json

# The stages of an edge node's life, in the order it reaches them.
STAGES = ("baseline", "probed", "attested", "meshed", "joined", "serving")
BARE = "bare"


def current_stage(record: dict) -> str:
    """The furthest stage in RECORD, or 'bare' for a node edgewright has not touched."""
    reached = record.get("stages", {})
    furthest = [s for s in STAGES if s in reached]
    return furthest[-1] if furthest else BARE


def apply(record: dict, stage: str, present: bool, now: str) -> tuple[dict, bool]:
    """RECORD with STAGE recorded (or removed); returns the new record and whether it changed."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known stages: {', '.join(STAGES)}")
    stages = dict(record.get("stages", {}))
    if present == (stage in stages):
        return record, False
    if present:
        stages[stage] = now
    else:
        del stages[stage]
    updated = {"stages": stages}
    updated["stage"] = current_stage(updated)
    return updated, True


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def save(path: str, record: dict) -> None:
    """Write RECORD atomically, so a reader never sees half a file; readable by all (a stage is no secret)."""
    write_json(path, record, mode=0o644)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
