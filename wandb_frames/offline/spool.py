"""Decoded runs from worker processes to the caller through files in shared memory.

A worker of :mod:`~wandb_frames.offline.parallel` writes each batch of decoded files as one
pickle (protocol 5) to a file in a private folder on ``/dev/shm`` (a RAM-backed ``tmpfs``;
the system's temporary folder where there is none) and sends only the file's name through
its pipe. A pipe holds 64 KiB, less than one decoded run of 1,000 steps: sent through it, a
worker would wait for the caller — itself busy decoding — at every run; through a file it
never waits, and the caller loads the batches between its own files. Only the batches the
caller has not loaded yet are on ``/dev/shm`` at any time (one or two: it loads them every
few milliseconds); when a batch cannot be written there (a full or small ``/dev/shm``, as
the 64 MiB of a default Docker container), the worker sends it through its pipe instead.

The folder is made by the caller with :func:`tempfile.mkdtemp` (mode ``0700``), each file
with mode ``0600``, so no other user can read them; a batch file is deleted as soon as it is
loaded and the folder (with anything a failed worker left) when the read ends, however it
ends (:meth:`Spool.remove`). The files hold only what the workers return: the decoded runs
(what ``scan_run_dir`` returns), their warnings and errors — never the API key or any
setting of this process.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_frames.errors import IncompleteResultError

__all__ = ["SHM_ROOT", "Spool"]

#: Where the spool folders go when it exists and is writable (Linux).
SHM_ROOT = Path("/dev/shm")
_PREFIX = "wandb-frames-offline-"


def _root() -> str:
    if SHM_ROOT.is_dir() and os.access(SHM_ROOT, os.W_OK | os.X_OK):
        return str(SHM_ROOT)
    return tempfile.gettempdir()


@dataclass(frozen=True)
class Spool:
    """One read's private folder of batch files.

    Attributes:
        directory: the folder (``/dev/shm/wandb-frames-offline-<pid>-<random>``).
    """

    directory: Path

    @classmethod
    def create(cls) -> Spool:
        """Make a new private folder (mode ``0700``)."""
        return cls(Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=_root())))

    def write(self, name: str, payload: Any) -> str:
        """Worker side: write ``payload`` as the batch file ``name`` (mode ``0600``); returns ``name``.

        Raises:
            OSError: the file could not be written (nothing is left of it).
        """
        data = pickle.dumps(payload, protocol=5)
        path = self._path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            path.unlink(missing_ok=True)  # e.g. a full /dev/shm: no partial file stays
            raise
        return name

    def take(self, name: str) -> Any:
        """Caller side: load the batch file ``name`` and delete it.

        Raises:
            IncompleteResultError: the file is missing or not a whole batch (a worker failed).
        """
        path = self._path(name)
        try:
            data = path.read_bytes()
            path.unlink()
            return pickle.loads(data)
        except (OSError, pickle.UnpicklingError, EOFError) as exc:
            raise IncompleteResultError(f"a worker's batch of decoded runs could not be read: {exc}") from exc

    def remove(self) -> None:
        """Delete the folder and every file left in it."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def _path(self, name: str) -> Path:
        if not name or "/" in name or os.sep in name or name.startswith("."):
            raise IncompleteResultError(f"not a batch file name: {name!r}")
        return self.directory / name
