"""The controller's side of edgewright's Ansible content: what its action plugins share.

Action plugins run in the controller's own process, as the operator who started ansible-playbook, whatever
`become` a play sets for its nodes. This package is their one adapter to the rest of edgewright: the
directories the controller keeps its records in, an atomic file writer, the argument specs several plugins
share, and one mapping from edgewright's domain errors to failed task results.
"""
