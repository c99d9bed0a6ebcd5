"""The tpm role's virtual TPM unit is the lab image's unit, so on a lab node the role changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_swtpm_unit_with_defaults_is_the_lab_images_unit():
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["basename"] = os.path.basename  # the Ansible filter of the same name
    template = env.from_string((ROOT / "roles/tpm/templates/swtpm.service.j2").read_text())
    defaults = yaml.safe_load((ROOT / "roles/tpm/defaults/main.yml").read_text())
    rendered = template.render(**defaults)
    assert rendered == (ROOT / "edgewright/lab/image/swtpm.service").read_text()
