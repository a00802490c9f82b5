"""One exception family; each subclass carries the exit code the CLI returns for it.

Exit codes are a contract (see README, "Exit codes"): 0 ok, 1 unexpected, 2 usage or
config, 3 input media, 4 weights/model, 5 output, 130 interrupted.
"""

from __future__ import annotations


class PipelineError(Exception):
    """An expected failure with a message a user can act on."""

    exit_code = 1


class ConfigError(PipelineError):
    """Bad configuration or command-line usage."""

    exit_code = 2


class MediaError(PipelineError):
    """The input file cannot be used as match footage."""

    exit_code = 3


class WeightsError(PipelineError):
    """Model weights missing, unreadable or incompatible."""

    exit_code = 4


class OutputError(PipelineError):
    """The output cannot be written (not writable, disk full, exists without --force)."""

    exit_code = 5
