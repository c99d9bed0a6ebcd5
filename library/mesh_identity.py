#!/usr/bin/python
"""Ensure the node's mesh key exists (made on the node) and report its public key and mesh address."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_identity
short_description: Ensure an edge node's mesh overlay key exists and report its public identity
description:
  - Generates the node's key pair on the node with the backend's own tool when it has none, and keeps it
    there (mode 0600, or 0640 to the daemon's group for yggdrasil). Returns only the public key and the
    node's mesh address, which becomes the node's identity for later steps.
  - C(yggdrasil) keeps the key in its JSON config (I(path)), made with C(yggdrasil -genconf -json); the
    address is C(yggdrasil -address). C(wireguard) keeps it in I(path), made with C(wg genkey); the address
    is derived from the public key inside I(network). C(cjdns) keeps it in its config, made with
    C(cjdroute --genconf); the address is the config's C(ipv6).
options:
  backend: {description: The overlay backend., type: str, required: true, choices: [yggdrasil, wireguard, cjdns]}
  path: {description: Where the key (or the config holding it) lives on the node., type: path, required: true}
  network: {description: For wireguard, the overlay network addresses are derived in., type: str}
  group: {description: The group that may read the key file (the daemon's), or none., type: str}
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure the node has its yggdrasil key
  mesh_identity: {backend: yggdrasil, path: /etc/yggdrasil/yggdrasil.conf, group: yggdrasil}
  register: mesh_key
"""

RETURN = r"""
public_key: {description: The node's public key (null in check mode when it has none yet)., returned: always, type: str}
address: {description: The node's mesh address (null in check mode when it has no key yet)., returned: always, type: str}
"""

import grp
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edgewright_files import json_text, write_atomic
from ansible.module_utils.edgewright_mesh import read_json, run, strip_json_comments, wireguard_address


def write_private(path, text, gid, mode=0o600):
    """Write a file that holds the node's private key: MODE and GID before any byte of it is written."""
    write_atomic(path, text, mode=mode, dir_mode=0o755, group=gid)


def generate(backend, path, gid):
    if backend == "yggdrasil":
        write_private(path, run(["yggdrasil", "-genconf", "-json"]), gid, mode=0o640 if gid else 0o600)
    elif backend == "wireguard":
        write_private(path, run(["wg", "genkey"]), gid)
    else:
        config = json.loads(strip_json_comments(run(["cjdroute", "--genconf"])))
        write_private(path, json_text(config), gid)


def identify(backend, path, network):
    if backend == "yggdrasil":
        public_key = read_json(path)["PublicKey"]
        return public_key, run(["yggdrasil", "-useconffile", path, "-address"]).strip()
    if backend == "wireguard":
        with open(path) as f:
            public_key = run(["wg", "pubkey"], stdin=f.read()).strip()
        return public_key, wireguard_address(network, public_key)
    config = read_json(path)
    return config["publicKey"], config["ipv6"]


def main():
    module = AnsibleModule(
        argument_spec={
            "backend": {"type": "str", "required": True, "choices": ["yggdrasil", "wireguard", "cjdns"]},
            "path": {"type": "path", "required": True},
            "network": {"type": "str"},
            "group": {"type": "str"},
        },
        required_if=[("backend", "wireguard", ("network",))],
        supports_check_mode=True,
    )
    p = module.params
    try:
        gid = grp.getgrnam(p["group"]).gr_gid if p["group"] else None
    except KeyError:
        module.fail_json(msg=f"group {p['group']} does not exist on the node (is the backend installed?)")
    changed = not os.path.exists(p["path"])
    try:
        if changed:
            if module.check_mode:
                module.exit_json(changed=True, public_key=None, address=None)
            generate(p["backend"], p["path"], gid)
        public_key, address = identify(p["backend"], p["path"], p["network"])
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        module.fail_json(msg=f"mesh identity ({p['backend']}, {p['path']}): {exc}")
    module.exit_json(changed=changed, public_key=public_key, address=address)


if __name__ == "__main__":
    main()
