"""Private file storage for scans and letters: on disk, never under a served URL."""

from __future__ import annotations

import errno
import logging
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
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


# ---------------------------------------------------------------------------
# Files held between two submissions of a form
#
# A browser cannot put a chosen file back into a file input: after a form
# error, or while the user confirms what the form will do, the upload waits
# here until the form is posted again. Each file is 0600 under a
# server-generated name (never the uploaded one); only the session that
# uploaded it lists it, under a random key, so nobody else can name it. It is
# removed once used or replaced, and HELD_SECONDS after it was kept whatever
# happens: `purge_held_files` runs at each use of the intake page and hourly
# (`manage.py purge_held_files`, next to `clearsessions`). Being referenced by
# no row, a held file is also an orphan for `sweep_orphan_files`, whose
# minimum age is longer than HELD_SECONDS.

HELD_DIRECTORY = "held"
HELD_SECONDS = 30 * 60
# Per session: a double click or a second tab holds another copy.
HELD_KEPT = 3
_HELD_SESSION_KEY = "held_files"


@dataclass(frozen=True)
class HeldFile:
    key: str
    size: int
    content_type: str
    name: str

    def read(self) -> bytes:
        with private_storage.open(self.name, "rb") as held:
            return bytes(held.read())


def _held_entries(session: Any) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = session.get(_HELD_SESSION_KEY, {})
    return entries


def hold_file(session: Any, data: bytes, *, content_type: str) -> HeldFile:
    """Keep `data` for this session; raises StorageUnavailable if it cannot."""
    name = private_storage.save(f"{HELD_DIRECTORY}/{uuid.uuid4().hex}", ContentFile(data))
    key = secrets.token_urlsafe(16)
    entries = _held_entries(session)
    entries[key] = {
        "name": name,
        "at": time.time(),
        "size": len(data),
        "content_type": content_type,
    }
    # Dicts keep insertion order: drop the oldest beyond the limit.
    for old in list(entries)[:-HELD_KEPT]:
        _delete_quietly(entries.pop(old)["name"])
    session[_HELD_SESSION_KEY] = entries
    return HeldFile(key, len(data), content_type, name)


def held_file(session: Any, key: str | None) -> HeldFile | None:
    """The file this session holds under `key`, unless unknown, expired or gone."""
    entries = _held_entries(session)
    entry = entries.get(key) if key else None
    if key is None or entry is None:
        return None
    if time.time() - float(entry.get("at", 0)) > HELD_SECONDS or not private_storage.exists(
        entry["name"]
    ):
        release_held_file(session, key)
        return None
    return HeldFile(key, int(entry["size"]), str(entry["content_type"]), str(entry["name"]))


def release_held_file(session: Any, key: str) -> None:
    """Forget and delete a held file (used, replaced or refused)."""
    entries = _held_entries(session)
    entry = entries.pop(key, None)
    if entry is None:
        return
    session[_HELD_SESSION_KEY] = entries
    _delete_quietly(entry["name"])


def purge_held_files(now: float | None = None) -> int:
    """Delete every held file older than HELD_SECONDS, whichever session held it."""
    cutoff = (time.time() if now is None else now) - HELD_SECONDS
    directory = Path(private_storage.path(HELD_DIRECTORY))
    if not directory.is_dir():
        return 0
    removed = 0
    for entry in os.scandir(directory):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.remove(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # removed meanwhile by its own session
    return removed


def _delete_quietly(name: str) -> None:
    try:
        private_storage.delete(name)
    except OSError:
        # Names are server-generated: nothing personal in this line.
        logger.error("private storage: a held file could not be removed")
