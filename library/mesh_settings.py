#!/usr/bin/python
"""Set edgewright's settings in a mesh daemon's JSON config that also holds the node's private key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_settings
short_description: Merge settings into a mesh daemon's JSON config without touching its private key
description:
  - Yggdrasil and cjdns keep the node's private key in their config file, so that file is made on the node
    (M(mesh_identity)) and never rendered from the controller. This module sets the top-level keys given in
    I(settings) and leaves every other key, the private key among them, as it is.
  - Refuses settings that would set a private key. Reports a change only when a value differs.
options:
  path: {description: The config file (JSON) on the node., type: path, required: true}
  settings: {description: Top-level keys and their values., type: dict, required: true}
  group: {description: The group that owns the file (the daemon's), or none., type: str}
  mode: {description: The file's mode., type: str, default: "0600"}
author: edgewright
"""

EXAMPLES = r"""
- name: Ensure yggdrasil peers with the node's cluster head
  mesh_settings:
    path: /etc/yggdrasil/yggdrasil.conf
    settings: {Peers: ["tcp://10.231.50.11:7701"], Listen: [], MulticastInterfaces: []}
    group: yggdrasil
    mode: "0640"
"""

RETURN = r"""
settings: {description: The config after the change, without its secret fields., returned: always, type: dict}
"""

import grp

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.edgewright_files import json_text, write_atomic
from ansible.module_utils.edgewright_mesh import merge_settings, public_view, read_json


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "settings": {"type": "dict", "required": True},
            "group": {"type": "str"},
            "mode": {"type": "str", "default": "0600"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        config = read_json(p["path"])
        merged, changed = merge_settings(config, p["settings"])
        gid = grp.getgrnam(p["group"]).gr_gid if p["group"] else None
        if changed and not module.check_mode:
            # The daemon's config holds its private key: mode and group are set before it is written.
            write_atomic(p["path"], json_text(merged), mode=int(p["mode"], 8), dir_mode=0o755, group=gid)
    except FileNotFoundError:
        module.fail_json(msg=f"{p['path']} does not exist: ensure the node's mesh identity first")
    except KeyError:
        module.fail_json(msg=f"group {p['group']} does not exist on the node")
    except ValueError as exc:
        module.fail_json(msg=f"{p['path']}: {exc}")
    module.exit_json(changed=changed, settings=public_view(merged))


if __name__ == "__main__":
    main()
