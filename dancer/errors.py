"""Domain errors. The CLI turns each into one line on stderr and exit code 1."""

from __future__ import annotations


class DancerError(Exception):
    """Base class for errors a user can act on; the message is the whole story."""


class DecodeError(DancerError):
    """A file could not be opened or decoded as audio."""


class LibraryError(DancerError):
    """The SQLite library could not be opened, written or migrated."""


class ConfigError(DancerError):
    """A data file (arc, prompt pack, config, playlist) is invalid."""


class DeviceError(DancerError):
    """No usable audio output device, or the device failed."""


class Interrupted(Exception):
    """The user stopped the work (Ctrl-C, or quit mid-way); exit code 130. The message, if any, says
    what was kept and how to continue."""
