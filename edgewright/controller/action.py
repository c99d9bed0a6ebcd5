"""The base of edgewright's action plugins: validated arguments in, a task result out, domain errors as
failed results that name the problem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from edgewright.controller.dirs import DIRECTORY_VARS, Directories
from edgewright.errors import EdgewrightError

# edgewright's domain errors: each says in words what is wrong, so it becomes the task's message as it is.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (EdgewrightError,)


class Failed(Exception):
    """A task that fails with MSG and the result fields it still reports (status, reason...)."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


class ControllerAction(ActionBase):
    """An action that runs on the controller only, in Ansible's own process, as the operator.

    Subclasses set ARGUMENT_SPEC (checked before anything runs, so bad input names its argument and
    changes nothing) and implement act(). DOMAIN_ERRORS and Failed raised by act() become failed results;
    describe() may put them in the action's words.
    """

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC: Mapping[str, dict] = {}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        try:
            _, params = self.validate_argument_spec(argument_spec=dict(self.ARGUMENT_SPEC))
        except AnsibleActionFail as exc:
            return {**result, "failed": True, "msg": exc.message}
        self.warnings: list[str] = []
        try:
            outcome = self.act(params, self.directories(task_vars))
        except Failed as exc:
            outcome = {"failed": True, "msg": exc.msg, **exc.result}
        except DOMAIN_ERRORS + self.service_errors() as exc:
            outcome = {"failed": True, "msg": self.describe(exc, params)}
        outcome.setdefault("changed", False)
        if self.warnings:
            outcome["warnings"] = self.warnings
        return {**result, **outcome}

    def directories(self, task_vars: Mapping) -> Directories:
        """The operator's directories as this host's variables name them, templated (the lab's name its
        verifier after its SSH key's directory, say)."""
        named = {
            name: self._templar.template(task_vars[name]) for name in DIRECTORY_VARS if task_vars.get(name)
        }
        return Directories.from_vars(named)

    @property
    def check_mode(self) -> bool:
        return bool(self._task.check_mode)

    def act(self, params: dict[str, Any], dirs: Directories) -> dict[str, Any]:
        raise NotImplementedError

    def service_errors(self) -> tuple[type[Exception], ...]:
        """The errors of the services this action talks to that are worth a message, not a traceback."""
        return ()

    def describe(self, error: Exception, params: dict[str, Any]) -> str:
        """The failed task's message for a domain error."""
        return str(error)


class KubernetesAction(ControllerAction):
    """An action against the Kubernetes API, with the controller's kubeconfig (the params' `kubeconfig`)."""

    def service_errors(self):
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
        from urllib3.exceptions import HTTPError

        return (ApiException, ConfigException, HTTPError, OSError)

    def describe(self, error, params):
        if isinstance(error, DOMAIN_ERRORS):
            return str(error)
        return f"Kubernetes API at {params['kubeconfig']}: {error}"
