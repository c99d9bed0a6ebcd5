#!/usr/bin/python
"""Ensure a package repository's signing key is in place, and only when it has the pinned fingerprint."""

from __future__ import annotations

DOCUMENTATION = r"""
module: apt_signing_key
short_description: Install a repository's OpenPGP signing key only when its fingerprint is the pinned one
description:
  - Reads the key file I(src) on the node (as downloaded, e.g. by M(ansible.builtin.get_url)), and writes it
    to I(dest), the keyring a C(signed-by=) source names, only when it holds exactly one primary key and
    that key's fingerprint is I(fingerprint). Anything else fails, naming what the file holds, and I(dest)
    is left as it was.
  - Reports a change only when I(dest) changes. Supports check mode.
options:
  src: {description: The downloaded key file (armored or binary)., type: path, required: true}
  dest: {description: Where apt reads the key from., type: path, required: true}
  fingerprint:
    description: The key's fingerprint (40 hex digits for a v4 key, 64 for v6; spaces and case ignored).
    type: str
    required: true
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure the Kubernetes repository's key, pinned by fingerprint
  apt_signing_key:
    src: /var/cache/edgewright/kubernetes.asc
    dest: /etc/apt/keyrings/kubernetes.asc
    fingerprint: DE15 B144 86CD 377B 9E87  6E1A 2346 54DA 9A29 6436
"""

RETURN = r"""
fingerprint: {description: The fingerprint of the key installed., returned: success, type: str}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edgewright_files import write_atomic
from ansible.module_utils.openpgp import KeyError_, normalise_fingerprint, primary_fingerprints


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "fingerprint": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        wanted = normalise_fingerprint(p["fingerprint"])
    except ValueError as exc:
        module.fail_json(msg=f"fingerprint: {exc}")
    try:
        with open(p["src"], "rb") as f:
            key = f.read()
        found = primary_fingerprints(key)
    except (OSError, KeyError_) as exc:
        module.fail_json(msg=f"{p['src']}: {exc}")
    if found != [wanted]:
        module.fail_json(
            msg=f"{p['src']} holds the key(s) {', '.join(found)}, not only {wanted}: not installed",
            fingerprints=found,
        )
    try:
        with open(p["dest"], "rb") as f:
            changed = f.read() != key
    except FileNotFoundError:
        changed = True
    if changed and not module.check_mode:
        write_atomic(p["dest"], key, mode=0o644, dir_mode=0o755)
    module.exit_json(changed=changed, fingerprint=wanted)


if __name__ == "__main__":
    main()
