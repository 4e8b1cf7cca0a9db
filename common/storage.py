"""Private file storage for scans and letters: on disk, never under a served URL."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.utils.functional import LazyObject

logger = logging.getLogger(__name__)

# Only the account that runs the application reads scans and letters.
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class StorageUnavailable(Exception):
    """A file could not be written to private storage (disk full, read-only
    file system, permissions...). Nothing was left behind; `code` is the errno
    name (ENOSPC, EROFS, EACCES...), for logs and the audit trail's cause."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PrivateFileSystemStorage(FileSystemStorage):
    """Files 0600 in folders 0700; a failed write leaves no file, not even an
    empty one, and raises `StorageUnavailable`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("file_permissions_mode", FILE_MODE)
        kwargs.setdefault("directory_permissions_mode", DIRECTORY_MODE)
        super().__init__(**kwargs)

    def _save(self, name: str, content: Any) -> str:
        full_path = self.path(name)
        existed = os.path.lexists(full_path)
        try:
            return str(super()._save(name, content))  # type: ignore[misc]  # not in the stubs
        except OSError as error:
            if not existed:
                try:
                    os.remove(full_path)
                except FileNotFoundError:
                    pass
                except OSError:
                    logger.error("private storage: a partial file could not be removed")
            code = errno.errorcode.get(error.errno or 0, "OSError")
            logger.error("private storage: write refused (%s)", code)
            raise StorageUnavailable(code) from error


class PrivateStorage(LazyObject):  # type: ignore[type-arg]  # stubs only
    """Storage for scans and letters: on disk, never under a served URL."""

    def _setup(self) -> None:
        self._wrapped = PrivateFileSystemStorage(
            location=settings.PRIVATE_STORAGE_ROOT, base_url=None
        )


private_storage = PrivateStorage()


def storage() -> Any:
    """The callable form a FileField's `storage=` takes, so migrations keep no path."""
    return private_storage


# ---------------------------------------------------------------------------
# Files written by a transaction that rolls back
#
# A file is on disk before the row that names it is committed. If the
# transaction then rolls back, nothing would point at the file any more: the
# services wrap each use case in `kept_only_if_committed`, and whatever the
# use case wrote is removed unless its transaction committed. A rollback
# decided later by an outer transaction leaves the file to
# `manage.py sweep_orphan_files`.


@dataclass
class _Written:
    names: list[str] = field(default_factory=list)
    committed: set[str] = field(default_factory=set)

    def remove_uncommitted(self) -> None:
        for name in self.names:
            if name not in self.committed:
                private_storage.delete(name)


_written: ContextVar[_Written | None] = ContextVar("huisclos_written_files", default=None)


def track_write(name: str | None) -> None:
    """Note a file just written to private storage, for `kept_only_if_committed`."""
    written = _written.get()
    if written is None or not name:
        return
    written.names.append(name)
    transaction.on_commit(lambda: written.committed.add(name))


@contextmanager
def kept_only_if_committed() -> Iterator[None]:
    written = _Written()
    token = _written.set(written)
    try:
        yield
    finally:
        _written.reset(token)
        if written.names:
            if transaction.get_connection().in_atomic_block:
                # Runs after the marks registered when each file was written.
                transaction.on_commit(written.remove_uncommitted)
            else:
                written.remove_uncommitted()
