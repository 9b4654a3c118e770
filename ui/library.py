"""The documents folder behind the chat and the API: add files safely, remove them, list them.

Every file of an upload is checked before anything is saved (a clean name inside the folder, a supported
type, the size limit, readable text); if one fails, none is saved and the index is unchanged. Writes of one
process are serialised by the caller's lock.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from index.build import BuildReport, Progress, source_name
from index.documents import SUPPORTED_SUFFIXES, load_document
from index.errors import DocumentError, SeedragError

MAX_NAME_CHARS = 120
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ()+,=@\[\]]")  # \w is Unicode-aware: letters and digits of any script


class UploadRejected(SeedragError):
    """An upload cannot be used; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def document_id(source: str) -> str:
    """A stable, URL-safe id for a source name."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def safe_filename(raw: str | None) -> str:
    """The base name of an uploaded file, safe to create in the documents folder.

    Directories (`/`, `\\`), `..`, leading dots (hidden files), control characters and unusual punctuation
    are removed or replaced; a NUL byte or a name with nothing left is rejected with a 422.

    >>> safe_filename("../../etc/passwd.md"), safe_filename("/tmp/.notes.md")
    ('passwd.md', 'notes.md')
    """
    name = raw or ""
    if "\x00" in name:
        raise UploadRejected(422, f"The file name {name!r} contains a NUL byte; rename the file.")
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")   # control, format, unassigned
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip().lstrip(".").strip()
    stem, dot, suffix = name.rpartition(".")
    if dot and len(name) > MAX_NAME_CHARS:
        name = f"{stem[:MAX_NAME_CHARS - len(suffix) - 1]}.{suffix}"
    name = name[:MAX_NAME_CHARS]
    if not name or not Path(name).stem.strip("._ "):
        raise UploadRejected(422, f"The file name {raw!r} has no usable characters; rename the file.")
    return name


def _stage(name: str, data: BinaryIO, folder: Path, suffix: str, limit: int) -> Path:
    """Copy an upload into a hidden file of `folder` (the index skips hidden files), checking its size."""
    handle, staged = tempfile.mkstemp(prefix=".upload-", suffix=suffix, dir=folder)
    path = Path(staged)  # the message below names the upload, never this server-side path
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while block := data.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise UploadRejected(413, f"{name!r} is larger than the upload limit of "
                                             f"{limit / 1048576:g} MB (SEEDRAG_MAX_UPLOAD_MB).")
                out.write(block)
        path.chmod(0o644)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _commit(rag: Any, staged: list[tuple[Path, Path]], folder: Path, progress: Progress | None = None) -> Any:
    """Move the checked files into place and index the folder; on failure, put the folder back as it was."""
    placed: list[Path] = []
    backups: list[tuple[Path, Path]] = []
    try:
        for tmp, target in staged:
            if target.exists() or target.is_symlink():
                backup = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.bak"
                os.replace(target, backup)
                backups.append((backup, target))
            os.replace(tmp, target)
            placed.append(target)
        report = rag.index([folder], progress=progress)
    except BaseException:
        for target in placed:
            target.unlink(missing_ok=True)
        for backup, target in backups:
            os.replace(backup, target)
        raise
    for backup, _ in backups:
        backup.unlink(missing_ok=True)
    return report


def file_in(source: str, folder: Path) -> Path | None:
    """The file of `source` if it lies inside `folder` (symlinks are not followed out of it)."""
    path = Path(source)
    path = path if path.is_absolute() else Path.cwd() / path
    try:
        path = path.parent.resolve() / path.name
    except OSError:
        return None
    if not path.is_relative_to(folder) or not (path.is_file() or path.is_symlink()):
        return None
    return path


def add_files(rag: Any, folder: Path, files: Sequence[tuple[str | None, BinaryIO]], limit: int,
              lock: threading.Lock, progress: Progress | None = None) -> tuple[BuildReport, list[str]]:
    """Check, save and index `files` (name, readable binary) in `folder`; returns the report and their sources.
    `progress(done, total)` is called as chunks are embedded."""
    names = [safe_filename(raw) for raw, _ in files]
    for (raw, _), name in zip(files, names, strict=True):
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UploadRejected(415, f"{raw!r}: unsupported file type {suffix or '(none)'!r}; "
                                      f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if len(set(names)) != len(names):
        raise UploadRejected(422, f"Two uploaded files have the same name after cleaning: {names}.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UploadRejected(503, f"Cannot create the documents folder {folder}: {exc}") from exc
    staged: list[tuple[Path, Path]] = []
    try:
        for (raw, data), name in zip(files, names, strict=True):
            target = folder / name
            if target.is_dir():
                raise UploadRejected(422, f"{name!r} is a folder in the documents folder; rename the file.")
            tmp = _stage(raw or name, data, folder, Path(name).suffix, limit)
            staged.append((tmp, target))
            try:
                load_document(tmp, name)
            except DocumentError as exc:
                raise UploadRejected(422, f"{raw!r} cannot be indexed: {exc}. Nothing was changed.") from exc
        with lock:
            report = _commit(rag, staged, folder, progress)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    cwd = Path.cwd()
    return report, [source_name(t, cwd) for _, t in staged]


def remove_document(rag: Any, source: str, folder: Path, lock: threading.Lock) -> tuple[bool, bool]:
    """Remove `source` from the index, and its file when it lies in `folder`: (removed, file_deleted)."""
    with lock:
        removed = rag.remove([source]) == 1
        path = file_in(source, folder)
        deleted = False
        if path is not None:
            try:
                path.unlink()
                deleted = True
            except OSError:
                deleted = False
    return removed, deleted
