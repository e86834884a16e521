"""Parameter sets stored as cited data files (``spinerelease/data/<name>.yaml``).

Each file has the form::

    description: what the set holds
    parameters:
      key:
        value: 12.0          # a number, or a list of numbers
        unit: mm
        range: [8.0, 16.0]   # plausible range reported by the source (or across sources)
        source: deleva1996   # a key of data/sources.yaml
        note: "Table 4, males"  # where in the source

A value without a source is a defect: :func:`load` refuses such a file. Reading a value through
:meth:`ParameterSet.value` records its source with :func:`spinerelease.citations.use`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from . import citations
from .errors import InputError


@dataclass(frozen=True)
class Parameter:
    """One cited value."""

    key: str
    value: Any
    unit: str
    source: str
    range: tuple[float, float] | None = None
    note: str = ""


@dataclass(frozen=True)
class ParameterSet:
    """A named, cited set of parameters."""

    name: str
    description: str
    parameters: dict[str, Parameter]

    def get(self, key: str) -> Parameter:
        """The :class:`Parameter` ``key``; records its source as used."""
        try:
            p = self.parameters[key]
        except KeyError:
            raise InputError(f"parameter set {self.name!r} has no parameter {key!r}") from None
        citations.use(*(k.strip() for k in p.source.split("+")))
        return p

    def value(self, key: str) -> Any:
        """The value of parameter ``key``; records its source as used."""
        return self.get(key).value

    def keys(self) -> list[str]:
        return list(self.parameters)


def _validate(name: str, key: str, entry: dict) -> Parameter:
    if not isinstance(entry, dict) or "value" not in entry:
        raise InputError(f"{name}.yaml: parameter {key!r} has no value")
    src = entry.get("source")
    if not src:
        raise InputError(f"{name}.yaml: parameter {key!r} has no source")
    for s in str(src).split("+"):
        citations.get(s.strip())
    rng = entry.get("range")
    if rng is not None:
        rng = (float(rng[0]), float(rng[1]))
        vals = entry["value"] if isinstance(entry["value"], list) else [entry["value"]]
        for v in vals:
            if isinstance(v, (int, float)) and not (rng[0] <= v <= rng[1]):
                raise InputError(f"{name}.yaml: parameter {key!r} value {v} is outside its range {rng}")
    return Parameter(
        key=key,
        value=entry["value"],
        unit=str(entry.get("unit", "")),
        source=str(src),
        range=rng,
        note=str(entry.get("note", "")),
    )


@cache
def load(name: str) -> ParameterSet:
    """Load and validate ``data/<name>.yaml``."""
    path = resources.files("spinerelease").joinpath(f"data/{name}.yaml")
    if not path.is_file():
        raise InputError(f"no parameter set named {name!r}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    params = {k: _validate(name, k, v) for k, v in (raw.get("parameters") or {}).items()}
    return ParameterSet(name=name, description=str(raw.get("description", "")), parameters=params)


def available() -> list[str]:
    """Names of all parameter sets shipped with the package."""
    folder = resources.files("spinerelease").joinpath("data")
    return sorted(
        p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml") and not p.name.startswith("sources")
    )
