"""Tests of the shared foundation: grid, errors, citations, parameter files, CLI entry point."""

import numpy as np
import pytest
from typer.testing import CliRunner

from spinerelease import citations, params
from spinerelease.cli.main import app
from spinerelease.errors import InputError, ResourceError
from spinerelease.grid import Grid


def test_grid_centered_coordinates():
    g = Grid.centered(100, 50, 1.0)
    assert g.shape == (50, 100)
    assert np.isclose(g.x_mm.mean(), 0.0) and np.isclose(g.y_mm.mean(), 0.0)
    X, Y = g.mesh()
    assert X.shape == g.shape


@pytest.mark.parametrize("bad", [float("nan"), -1.0, 0.0])
def test_grid_rejects_bad_spacing(bad):
    with pytest.raises(InputError):
        Grid.centered(100, 100, bad)


def test_grid_too_large_is_refused_before_allocation():
    with pytest.raises((InputError, ResourceError), match="allowed"):
        Grid.centered(100_000, 100_000, 1.0)


def test_every_parameter_file_is_cited_and_in_range():
    for name in params.available():
        ps = params.load(name)  # raises on a value without a source or outside its range
        for p in ps.parameters.values():
            for key in p.source.split("+"):
                assert citations.get(key.strip()).year


def test_cite_records_used_sources():
    citations.reset()
    citations.use("deleva1996")
    refs = citations.cite()
    assert len(refs) == 1 and "de Leva" in refs[0]
    with pytest.raises(InputError):
        citations.use("no-such-source")


def test_cli_help_and_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and "spinerelease" in r.output
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
