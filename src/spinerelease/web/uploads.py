"""Uploaded tools: stored only inside one private temporary directory, under random names, validated on arrival.

The client's file name is used for nothing but its extension (checked against :data:`ALLOWED_EXTENSIONS`); the
stored name is ``<32 random hex digits><ext>`` inside a ``tempfile.mkdtemp()`` directory (mode 0700), so no
client input can reach the file system path. Every upload is parsed and checked by the tools stage
(:func:`spinerelease.tools.load_tool`: size limits, closed mesh, peaks) before it is accepted; a bad file is
deleted and reported as :class:`~spinerelease.errors.InputError`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..tools import load_tool

#: File types accepted for a tool (JSON/YAML description or STL mesh).
ALLOWED_EXTENSIONS = (".json", ".yaml", ".yml", ".stl")
#: Default largest upload. [bytes]
DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024**2
#: Grid spacing used to check an upload when it arrives. [mm]
CHECK_SPACING_MM = 2.0
UPLOAD_PREFIX = "upload:"


class UploadTooLarge(InputError):
    """An upload larger than the limit."""


@dataclass(frozen=True)
class UploadedTool:
    id: str
    path: Path
    name: str
    description: str
    peaks: tuple[str, ...]
    size_mm: tuple[float, float]


class UploadStore:
    """Uploaded tool files in a private temporary directory.

    Parameters
    ----------
    max_bytes : int
        Largest accepted file. [bytes]
    max_files : int
        Most uploads kept; the oldest is deleted when a new one arrives.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_files: int = 32) -> None:
        self.max_bytes = int(max_bytes)
        self.max_files = int(max_files)
        self.root = Path(tempfile.mkdtemp(prefix="spinerelease-uploads-"))
        os.chmod(self.root, 0o700)
        self._items: OrderedDict[str, UploadedTool] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, filename: str | None, stream: BinaryIO) -> UploadedTool:
        """Store and validate one uploaded file; return its record."""
        ext = Path(filename or "").suffix.lower()
        if ext not in ALLOWED_EXTENSIONS:
            raise InputError(
                f"unsupported tool file type {ext or '(none)'}: upload a {', '.join(ALLOWED_EXTENSIONS)} file"
            )
        data = stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise UploadTooLarge(f"the file is larger than the {self.max_bytes / 1024**2:g} MiB upload limit")
        if not data:
            raise InputError("the uploaded file is empty")
        token = secrets.token_hex(16)
        path = self.root / f"{token}{ext}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            tool = load_tool(path, spacing_mm=CHECK_SPACING_MM)
        except InputError as exc:
            path.unlink(missing_ok=True)
            raise InputError(
                str(exc).replace(str(path), "the uploaded file").replace(path.name, "the uploaded file")
            ) from None
        except Exception as exc:  # noqa: BLE001 - a parser failing on hostile input is still bad input
            path.unlink(missing_ok=True)
            raise InputError(f"the uploaded file could not be read as a tool ({type(exc).__name__})") from None
        # an STL carries no name: show the client's file stem (sanitized; it is never used as a path)
        name = (
            tool.name
            if ext != ".stl"
            else (re.sub(r"[^A-Za-z0-9 ._-]", "", Path(filename or "").stem)[:60] or "uploaded mesh")
        )
        item = UploadedTool(
            UPLOAD_PREFIX + token,
            path,
            name,
            tool.description,
            tuple(p.name for p in tool.peaks),
            tuple(float(v) for v in tool.size_mm),
        )
        with self._lock:
            self._items[item.id] = item
            while len(self._items) > self.max_files:
                _, old = self._items.popitem(last=False)
                old.path.unlink(missing_ok=True)
        return item

    def get(self, tool_id: str) -> UploadedTool:
        """The upload ``tool_id`` (``upload:<hex>``); :class:`InputError` if unknown."""
        with self._lock:
            item = self._items.get(tool_id)
        if item is None:
            raise InputError(
                f"unknown uploaded tool {tool_id!r}; upload it again (uploads are kept only while the server runs)"
            )
        return item

    def items(self) -> list[UploadedTool]:
        with self._lock:
            return list(self._items.values())

    def close(self) -> None:
        """Delete every uploaded file and the directory."""
        with self._lock:
            self._items.clear()
        shutil.rmtree(self.root, ignore_errors=True)
