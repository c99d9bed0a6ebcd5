#!/usr/bin/env python3
"""The Python language host of the Pulumi CLI: `pulumi up` starts it to run a Python stack program.

Pulumi's own host is the Go module ``github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3``,
which the Go module proxy the build machines reach does not serve, so scripts/setup.d/50-pulumi.sh installs
this one as ``pulumi-language-python`` beside the CLI. It speaks the same LanguageRuntime gRPC protocol
(the stubs ship in the ``pulumi`` package) as far as deploying needs:

- ``GetPluginInfo``, ``About``, ``GetProgramDependencies``: who it is and what the program runs on;
- ``GetRequiredPlugins`` / ``GetRequiredPackages``: none -- it installs no provider plugins (none can be
  downloaded here); the engine starts a provider when the program first uses it, and Python dynamic
  providers come with ``pulumi-resource-pulumi-python``;
- ``Run``: the program in a child process of the Python this host runs under, connected to the engine.

``pulumi install``, ``pulumi new`` and code generation are not supported (the project's environment comes
from scripts/setup). Run as ``pulumi-language-python [-flags] ENGINE_ADDRESS``; it prints its port and serves
until the CLI stops it. ``pulumi-language-python run ...`` is the child that runs a program.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import subprocess
import sys
import traceback
from collections.abc import Sequence
from concurrent import futures
from importlib import metadata
from pathlib import Path

import grpc
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

# Exit code of a program whose error has already been shown to the user (through the engine's log), so the
# CLI does not report it a second time.
SHOWN_ERROR_EXIT = 32
MAX_MESSAGE_BYTES = 400 * 1024 * 1024  # the engine's limit too: large stacks have large states
MAX_EXECUTOR_THREADS = 64


def sdk_version() -> str:
    return metadata.version("pulumi")


def engine_address(argv: Sequence[str]) -> str:
    """The engine's address: the last argument, after any Go-style ``-flag=value`` options."""
    if not argv or argv[-1].startswith("-"):
        raise SystemExit(f"usage: pulumi-language-python [-flags] ENGINE_ADDRESS (got {list(argv)})")
    return argv[-1]


def program_command(request: language_pb2.RunRequest, engine: str) -> list[str]:
    """The child that runs the program the engine asked for."""
    info = request.info
    root = info.root_directory or request.pwd
    program = request.program or str(Path(info.program_directory or root) / (info.entry_point or "."))
    command = [sys.executable, "-u", str(Path(__file__).resolve()), "run"]
    command += ["--monitor", request.monitor_address, "--engine", engine]
    command += [
        "--project",
        request.project,
        "--stack",
        request.stack,
        "--organization",
        request.organization,
    ]
    command += ["--root-directory", root, "--pwd", request.pwd or root, "--parallel", str(request.parallel)]
    if request.dryRun:
        command.append("--dry-run")
    return [*command, "--", program, *request.args]


def program_environment(request: language_pb2.RunRequest) -> dict[str, str]:
    """The stack's config reaches the program the way the SDK reads it: PULUMI_CONFIG(_SECRET_KEYS)."""
    return {
        **os.environ,
        "PULUMI_CONFIG": json.dumps(dict(request.config)),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys)),
    }


def run_response(returncode: int) -> language_pb2.RunResponse:
    if returncode == 0:
        return language_pb2.RunResponse()
    if returncode == SHOWN_ERROR_EXIT:
        return language_pb2.RunResponse(bail=True)
    return language_pb2.RunResponse(error=f"the program exited with code {returncode}")


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine: str) -> None:
        self.engine = engine

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=sdk_version())

    def GetRequiredPlugins(self, request, context):
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):
        return language_pb2.GetRequiredPackagesResponse()

    def About(self, request, context):
        return language_pb2.AboutResponse(
            executable=sys.executable, version=platform.python_version(), metadata={"host": "edgewright"}
        )

    def GetProgramDependencies(self, request, context):
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[
                language_pb2.DependencyInfo(name=dist.metadata["Name"], version=dist.version)
                for dist in metadata.distributions()
                if dist.metadata["Name"]
            ]
        )

    def Run(self, request, context):
        # The program's output goes where this host's goes: the CLI shows it.
        completed = subprocess.run(
            program_command(request, self.engine), env=program_environment(request), check=False
        )
        return run_response(completed.returncode)


def serve(argv: Sequence[str]) -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine_address(argv)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)  # the CLI reads the port from the first line
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(0)


def program_traceback(error: BaseException, program: str) -> str:
    """The traceback from the program's own entry on (what runs it is no concern of the user's)."""
    frames = traceback.extract_tb(error.__traceback__)
    entry = Path(program).resolve()
    entry = entry / "__main__.py" if entry.is_dir() else entry
    start = next((i for i, frame in enumerate(frames) if Path(frame.filename).resolve() == entry), 0)
    shown = traceback.format_list(frames[start:]) + traceback.format_exception_only(error)
    return "".join(["Traceback (most recent call last):\n", *shown])


def run_program(argv: Sequence[str]) -> int:
    """Run a stack program connected to the engine (the child ``Run`` starts)."""
    parser = argparse.ArgumentParser(prog="pulumi-language-python run")
    for option in ("--monitor", "--engine", "--project", "--stack", "--organization", "--root-directory"):
        parser.add_argument(option, required=True)
    parser.add_argument("--pwd", required=True)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("program")
    parser.add_argument("args", nargs="*")
    args = parser.parse_args(argv)

    # Imported only here: the serving host needs just the protocol stubs, and starts faster without.
    import pulumi
    import pulumi.runtime

    pulumi.runtime.set_all_config(
        pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()
    )
    settings = pulumi.runtime.Settings(
        project=args.project,
        stack=args.stack,
        monitor=args.monitor,
        engine=args.engine,
        parallel=args.parallel,
        dry_run=args.dry_run,
        organization=args.organization or None,
        root_directory=args.root_directory,
    )
    pulumi.runtime.configure(settings)
    sys.argv = [args.program, *args.args]
    os.chdir(args.pwd)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = futures.ThreadPoolExecutor(max_workers=min(max(args.parallel, 1) * 4, MAX_EXECUTOR_THREADS))
    loop.set_default_executor(executor)
    # A failed program leaves futures unobserved on purpose; asyncio's complaints about them are noise.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    def program() -> None:
        import runpy

        runpy.run_path(args.program, run_name="__main__")

    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        return 0
    except pulumi.RunError as error:
        pulumi.log.error(str(error))
    except Exception as error:  # any failure of the program: shown to the user through the engine, then bail
        pulumi.log.error(f"the program failed:\n{program_traceback(error, args.program)}")
    finally:
        executor.shutdown(wait=True)
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()
    return SHOWN_ERROR_EXIT


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["run"]:
        return run_program(argv[1:])
    serve(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
