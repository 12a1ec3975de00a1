"""The only exceptions the UI and the CLI turn into messages.

Every error a user can cause is an ``ArenaError`` whose message names the file, row, key or
session involved and says what to do. Anything else escaping the core is a bug.
"""


class ArenaError(Exception):
    """Base class: the message is shown to the user as is."""


class DatasetError(ArenaError):
    """The data file cannot be read or does not fit the chosen columns/layout."""


class StrategyError(ArenaError):
    """A strategy is impossible for a key (e.g. multi-class on multi-valued rows)."""


class EmptyPlanError(StrategyError):
    """The plan would train 0 models; raised before anything is written or launched."""


class ManifestError(ArenaError):
    """A manifest is unreadable, invalid, or incomplete for the requested action."""


class SessionNotFound(ArenaError):
    """No session with that id in the store."""


class InvalidSessionId(ArenaError):
    """A session id that could escape the store or is malformed."""


class SessionBusy(ArenaError):
    """A worker already runs (or is starting) for this session."""


class ModelLoadError(ArenaError):
    """A model path or hub id cannot be loaded offline."""


class TrainingError(ArenaError):
    """A training job failed for a reason the user can act on."""


class RepairRefused(ArenaError):
    """Legacy repair evidence is ambiguous or contradictory; nothing was written."""


class StorageError(ArenaError):
    """The store cannot be written (read-only ARENA_HOME, disk full, ...)."""


def short_error(exc: BaseException) -> str:
    """One line for a job's or session's recorded error: the type and the first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:400]}" if text else type(exc).__name__
