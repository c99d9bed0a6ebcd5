"""The errors edgewright reports, and the exit status each kind gives its commands.

A domain error (EdgewrightError) says in words what cannot be done and why; the command line prints it as
one line (`edgewright lab up: error: ...`) and the action plugins make it the task's message. Errors of the
operating system and of the command line get statuses of their own, from sysexits(3), so a script can tell
them apart from each other and from the 1-8 of ansible-playbook that `edgewright run` passes on.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    # What was asked cannot be done (a domain error): the message says why.
    FAILED = 1
    # The command line is wrong: an unknown option, a value of the wrong form, options that exclude each other.
    USAGE = 64
    # A file or directory the command was given or needs does not exist.
    NO_INPUT = 66
    # A bug in edgewright: an error it did not expect.
    INTERNAL = 70
    # Any other error of the operating system: a full disk, a refused connection, a broken pipe.
    IO = 74
    # The operating system refused access to a file or an operation.
    NO_PERMISSION = 77
    # Interrupted (SIGINT), as shells report it.
    INTERRUPTED = 130


class EdgewrightError(Exception):
    """What was asked cannot be done, for the reason the message gives. The domain errors of every package
    derive from it, so the command line and the action plugins report each the same way."""

    status: ExitStatus = ExitStatus.FAILED


class UsageError(EdgewrightError):
    """The command line is wrong: what argparse finds, and what it cannot check on its own (options that go
    together, say). PROG, when given, is the command whose line it is."""

    status = ExitStatus.USAGE

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


class MissingFile(EdgewrightError):
    """A file the command needs does not exist; the message names it and what it is for."""

    status = ExitStatus.NO_INPUT


class PermissionDenied(EdgewrightError):
    """The operating system refused access; the message says to what, in the domain's words."""

    status = ExitStatus.NO_PERMISSION


# Long enough for any message edgewright writes; a longer one (a tool's whole output) is cut.
MAX_LINE = 500


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """TEXT as one line: its non-blank lines joined with '; ', cut to LIMIT characters."""
    line = "; ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def os_error(what: str, error: OSError) -> OSError:
    """ERROR with WHAT said before its reason, of the same kind (so it keeps its exit status)."""
    return OSError(error.errno, f"{what}: {error.strerror or error}")


def describe(error: BaseException) -> tuple[ExitStatus, str]:
    """The exit status and the one-line message of an error a command raised."""
    if isinstance(error, EdgewrightError):
        return error.status, one_line(str(error))
    if isinstance(error, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED, "interrupted"
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
        where = " -> ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
        message = one_line(f"{where}: {reason}" if where else reason)
        if isinstance(error, FileNotFoundError | NotADirectoryError):
            return ExitStatus.NO_INPUT, message
        if isinstance(error, PermissionError):
            return ExitStatus.NO_PERMISSION, message
        return ExitStatus.IO, message
    return (
        ExitStatus.INTERNAL,
        one_line(
            f"unexpected {type(error).__name__}: {error} (a bug; EDGEWRIGHT_DEBUG=1 shows where it happened)"
        ),
    )
