"""Bibliography of every published source spinerelease uses, and a record of which ones a run used.

Like PyBaMM's citation system: the full references live in ``data/sources*.yaml``; code that applies a
published model or reads a cited parameter calls :func:`use` with the source key, and :func:`cite` lists the
references used since the last :func:`reset` (or since import).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from .errors import InputError

_USED: list[str] = []


@dataclass(frozen=True)
class Source:
    """One published source."""

    key: str
    authors: str
    title: str
    year: int
    journal: str = ""
    volume: str = ""
    pages: str = ""
    doi: str = ""
    note: str = ""

    def format(self) -> str:
        """One-line reference in the style ``Authors (year). Title. Journal volume, pages. doi``."""
        parts = [f"{self.authors} ({self.year}). {self.title}."]
        if self.journal:
            jv = self.journal + (f" {self.volume}" if self.volume else "")
            parts.append(jv + (f", {self.pages}." if self.pages else "."))
        if self.doi:
            parts.append(f"doi:{self.doi}")
        return " ".join(parts)


@lru_cache(maxsize=1)
def sources() -> dict[str, Source]:
    """All known sources keyed by citation key, read once from ``data/sources*.yaml``.

    Each stage may keep its own bibliography file (``sources_contact.yaml``, ...); a key defined twice is
    an error.
    """
    folder = resources.files("spinerelease").joinpath("data")
    out: dict[str, Source] = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not (path.name.startswith("sources") and path.name.endswith(".yaml")):
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, entry in raw.items():
            if key in out:
                raise InputError(f"citation key {key!r} is defined twice (again in {path.name})")
            fields = {k: ("" if v is None else (v if k == "year" else str(v))) for k, v in entry.items()}
            out[key] = Source(key=key, **fields)
    return out


def get(key: str) -> Source:
    """The :class:`Source` for ``key``; :class:`InputError` if unknown."""
    try:
        return sources()[key]
    except KeyError:
        raise InputError(f"unknown citation key {key!r}") from None


def use(*keys: str) -> None:
    """Record that the current run used the sources ``keys`` (each must exist in ``sources.yaml``)."""
    for key in keys:
        get(key)
        if key not in _USED:
            _USED.append(key)


def used_keys() -> list[str]:
    """Keys recorded by :func:`use` since the last :func:`reset`, in first-use order."""
    return list(_USED)


def reset() -> None:
    """Forget which sources were used."""
    _USED.clear()


def cite(keys: list[str] | None = None) -> list[str]:
    """Formatted references for ``keys`` (default: all used since the last :func:`reset`)."""
    return [get(k).format() for k in (used_keys() if keys is None else keys)]
