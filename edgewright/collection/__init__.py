"""The edgewright.edge Ansible collection, built from this tree's roles, modules and plugins."""
