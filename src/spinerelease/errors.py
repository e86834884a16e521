"""Exceptions raised by spinerelease for bad input.

Every user-facing error is an :class:`InputError` (a ``ValueError``) whose message is one clear sentence
saying what was wrong and what is allowed. The CLI, the web app and the coach turn it into one line for the
user (exit code 2 in the CLI) instead of a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


class InputError(ValueError):
    """Bad input from a user: a value out of range, a malformed file, a mesh that is not closed, ..."""


class ResourceError(InputError):
    """A request that would exceed the machine's resources (e.g. a grid too large for memory)."""


def check_finite(name: str, value: float) -> float:
    """Return ``value`` as float or raise :class:`InputError` if it is not a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return v


def check_range(name: str, value: float, lo: float | None = None, hi: float | None = None, unit: str = "") -> float:
    """Return ``value`` as float if ``lo <= value <= hi``; raise :class:`InputError` otherwise."""
    v = check_finite(name, value)
    u = f" {unit}" if unit else ""
    if lo is not None and v < lo:
        raise InputError(f"{name} must be at least {lo:g}{u}, got {v:g}{u}")
    if hi is not None and v > hi:
        raise InputError(f"{name} must be at most {hi:g}{u}, got {v:g}{u}")
    return v


def check_positive(name: str, value: float, unit: str = "") -> float:
    """Return ``value`` as float if it is finite and > 0; raise :class:`InputError` otherwise."""
    v = check_finite(name, value)
    if v <= 0:
        u = f" {unit}" if unit else ""
        raise InputError(f"{name} must be positive, got {v:g}{u}")
    return v


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (case-insensitive); raise :class:`InputError` otherwise."""
    choices = tuple(choices)
    v = str(value).strip().lower()
    for c in choices:
        if v == c.lower():
            return c
    raise InputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_array_finite(name: str, arr: np.ndarray) -> np.ndarray:
    """Raise :class:`InputError` if ``arr`` contains NaN or infinity."""
    a = np.asarray(arr, dtype=float)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or infinite values")
    return a


#: Largest number of bytes a single solve may allocate before we refuse (fraction of the 24 GiB machine).
DEFAULT_MEMORY_BUDGET_BYTES = 8 * 1024**3


def check_memory(name: str, n_bytes: float, budget_bytes: float = DEFAULT_MEMORY_BUDGET_BYTES) -> None:
    """Raise :class:`ResourceError` *before allocating* if ``n_bytes`` exceeds the memory budget."""
    if n_bytes > budget_bytes:
        raise ResourceError(
            f"{name} would need about {n_bytes / 1024**3:.1f} GiB of memory, more than the "
            f"{budget_bytes / 1024**3:.1f} GiB allowed; use a coarser grid spacing or a smaller domain"
        )
