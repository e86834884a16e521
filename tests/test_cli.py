"""CLI smoke tests: every command runs, writes its files, and bad input gives one line and exit code 2."""

import json

import pytest
from typer.testing import CliRunner

from spinerelease.cli.main import app

runner = CliRunner()


def test_tools_list_and_show(tmp_path):
    r = runner.invoke(app, ["tools", "list"])
    assert r.exit_code == 0 and "pso-spine" in r.output
    png = tmp_path / "t.png"
    r = runner.invoke(app, ["tools", "show", "pso-rite", "--png", str(png)])
    assert r.exit_code == 0 and png.stat().st_size > 1000


def test_anatomy_show(tmp_path):
    png = tmp_path / "b.png"
    r = runner.invoke(
        app,
        ["anatomy", "show", "--stature", "180", "--mass", "80", "--sex", "male", "--png", str(png), "--spacing", "4"],
    )
    assert r.exit_code == 0 and "T7" in r.output and png.stat().st_size > 1000


def test_simulate_json():
    r = runner.invoke(app, ["simulate", "--spacing", "3", "--json", "--no-advice"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["verdict"] and len(d["peaks"]) == 5 and d["force_n"] > 0


def test_report_writes_html_and_pngs(tmp_path):
    out = tmp_path / "r.html"
    r = runner.invoke(
        app,
        [
            "report",
            "--spacing",
            "3",
            "--breathing-samples",
            "3",
            "--out",
            str(out),
            "--png-dir",
            str(tmp_path / "png"),
            "--compare-with",
            "",
        ],
    )
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "Medical disclaimer" in html and "data:image/png;base64" in html and "References" in html
    assert (tmp_path / "png" / "pressure_map.png").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--mass", "-70"],
        ["simulate", "--level", "T13"],
        ["tools", "show", "hammer"],
        ["anatomy", "show", "--stature", "nan"],
        ["tools", "show", "missing.stl"],
    ],
)
def test_bad_input_is_one_line_exit_2(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "Traceback" not in r.output
