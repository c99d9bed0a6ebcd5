"""Playbooks run from the command line through ansible-runner, with a compact view of their progress."""
