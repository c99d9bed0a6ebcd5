"""The Python language host the Pulumi CLI runs stack programs with (tools/pulumi/pulumi_language_python.py):
its pure parts, and its gRPC service answering on loopback. Its ``Run`` is exercised by the real CLI in
tests/integration/test_pulumi_vsphere_stack.py."""

from __future__ import annotations

import importlib.util
import json
import runpy
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

HOST = Path(__file__).resolve().parents[2] / "tools" / "pulumi" / "pulumi_language_python.py"
spec = importlib.util.spec_from_file_location("pulumi_language_python", HOST)
host = importlib.util.module_from_spec(spec)
spec.loader.exec_module(host)


def run_request(**fields) -> language_pb2.RunRequest:
    defaults = {
        "project": "edgewright-cloudlet",
        "stack": "lab",
        "pwd": "/srv/stacks",
        "monitor_address": "127.0.0.1:4000",
        "organization": "organization",
        "parallel": 16,
        "info": language_pb2.ProgramInfo(
            root_directory="/srv/stacks", program_directory="/srv/stacks", entry_point="."
        ),
    }
    return language_pb2.RunRequest(**(defaults | fields))


def test_the_engine_address_is_the_last_argument():
    assert host.engine_address(["-root=/srv/stacks", "-tracing=", "127.0.0.1:5000"]) == "127.0.0.1:5000"
    with pytest.raises(SystemExit, match="ENGINE_ADDRESS"):
        host.engine_address([])
    with pytest.raises(SystemExit, match="ENGINE_ADDRESS"):
        host.engine_address(["-root=/srv/stacks"])


def test_the_program_runs_in_this_python_connected_to_the_engine():
    command = host.program_command(run_request(dryRun=True, args=["-x"]), "127.0.0.1:5000")
    assert command[:4] == [sys.executable, "-u", str(HOST), "run"]
    options = command[4 : command.index("--")]

    def option(name: str) -> str:
        return options[options.index(name) + 1]

    assert option("--monitor") == "127.0.0.1:4000" and option("--engine") == "127.0.0.1:5000"
    assert option("--project") == "edgewright-cloudlet" and option("--stack") == "lab"
    assert option("--organization") == "organization" and option("--parallel") == "16"
    assert option("--root-directory") == "/srv/stacks" and option("--pwd") == "/srv/stacks"
    assert "--dry-run" in options
    assert command[command.index("--") + 1 :] == ["/srv/stacks", "-x"]  # the directory: its __main__.py
    assert "--dry-run" not in host.program_command(run_request(), "127.0.0.1:5000")


def test_config_and_its_secret_keys_reach_the_program_as_the_sdk_reads_them():
    request = run_request(
        config={"edgewright:orchestrator": "vsphere", "edgewright:vspherePassword": "pass"},
        configSecretKeys=["edgewright:vspherePassword"],
    )
    env = host.program_environment(request)
    assert json.loads(env["PULUMI_CONFIG"]) == {
        "edgewright:orchestrator": "vsphere",
        "edgewright:vspherePassword": "pass",
    }
    assert json.loads(env["PULUMI_CONFIG_SECRET_KEYS"]) == ["edgewright:vspherePassword"]


def test_exit_codes_become_run_responses():
    assert host.run_response(0) == language_pb2.RunResponse()
    assert host.run_response(host.SHOWN_ERROR_EXIT) == language_pb2.RunResponse(bail=True)
    assert host.run_response(1).error == "the program exited with code 1"


def test_a_failing_program_shows_its_own_frames_only(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(
        "def deploy():\n    raise ValueError('edgewright:cloudlet.name is not set')\n\ndeploy()\n"
    )
    try:
        runpy.run_path(str(tmp_path), run_name="__main__")
    except ValueError as error:
        shown = host.program_traceback(error, str(tmp_path))
    lines = shown.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert str(program) in lines[1] and "runpy" not in shown
    assert lines[-1] == "ValueError: edgewright:cloudlet.name is not set"


def test_the_host_answers_on_the_port_it_prints():
    server = subprocess.Popen(
        [sys.executable, str(HOST), "-root=/srv/stacks", "127.0.0.1:1"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = language_pb2_grpc.LanguageRuntimeStub(channel)
            info = stub.GetPluginInfo(empty_pb2.Empty())
            assert info.version == metadata.version("pulumi")
            packages = stub.GetRequiredPackages(language_pb2.GetRequiredPackagesRequest())
            assert list(packages.packages) == []
            with pytest.raises(grpc.RpcError) as refused:
                next(iter(stub.InstallDependencies(language_pb2.InstallDependenciesRequest())))
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
