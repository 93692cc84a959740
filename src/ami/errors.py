"""The one user-facing error family.

Every error a user can cause (bad config value, missing or corrupt file, unknown world, wrong
shapes) is raised as an `AmiError` subclass whose message is one line naming the problem. The
CLI prints that line to stderr and exits with status 2; nothing else is caught.
"""


class AmiError(Exception):
    """Base of every error that ami reports to a user in one line."""

    exit_code = 2


class ConfigError(AmiError):
    """A configuration value is invalid (names the field and the bad value)."""


class UnknownWorldError(AmiError):
    """A world name is not in the registry (lists the known names)."""


class DatasetError(AmiError):
    """A dataset file is missing, incomplete, corrupt or does not fit the request."""


class CheckpointError(AmiError):
    """A checkpoint is missing, corrupt or does not match its config."""


class TrainingDivergedError(AmiError):
    """Training met a non-finite loss, gradient or weight (names the step and what went wrong)."""


class FileWriteError(AmiError):
    """A file could not be written (disk full, quota, read-only, no permission); names the path."""


class ShapeError(AmiError):
    """A tensor or array does not have the shape a contract requires."""


class DependencyMissingError(AmiError):
    """An optional dependency or backend is not available (says how to install it)."""


class MemoryFormatError(AmiError):
    """A memory file is corrupt, not a memory file, or from a newer ami (schema version)."""


class MemoryLookupError(AmiError):
    """A label, step or episode asked for is not in the memory (says what there is)."""


class GoalUnreachableError(AmiError):
    """No chain of remembered places leads to the goal (the agent says so instead of wandering)."""
