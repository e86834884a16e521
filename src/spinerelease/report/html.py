"""Self-contained HTML reports (figures embedded as PNG data URIs) with PNG export of every figure.

Writing is atomic: the report goes to a temporary file in the target folder that replaces the old report only
once complete, so an interrupted run never leaves a half-written report or loses an earlier one.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from .. import DISCLAIMER, __version__
from ..citations import cite
from ..errors import InputError
from . import figures

if TYPE_CHECKING:
    from ..workflow import Advice, Comparison, ProtocolResult, SimulationResult

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.disclaimer{background:#fff4e5;border-left:4px solid #f0a020;padding:.8em 1em}
.verdict{font-size:1.15em;font-weight:600}.ok{color:#1a7f37}.bad{color:#b42318}
img{max-width:100%}.refs li{margin:.2em 0;font-size:.9em}
"""


@dataclass(frozen=True)
class ReportFigure:
    """A figure of the report with its file stem and caption."""

    stem: str
    caption: str
    figure: Figure


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _summary_rows(res: SimulationResult) -> list[list[str]]:
    a = res.assessment
    s = a.summary
    cx, cy = s.center_of_force_mm
    return [
        ["force on tool", f"{res.contact.total_force_n:.1f} N"],
        ["peak pressure (1 mm cell)", f"{s.peak_pressure_kpa:.0f} kPa"],
        ["peak pressure (1 cm² probe average)", f"{a.probe_peak_kpa:.0f} kPa"],
        ["mean pressure over contact", f"{s.mean_pressure_kpa:.0f} kPa"],
        ["contact area", f"{s.contact_area_mm2:.0f} mm²"],
        ["centre of force (x, y)", f"({cx:.1f}, {cy:.1f}) mm"],
        ["force on muscle / on bone", f"{a.muscle_force_n:.1f} N / {a.bone_force_n:.1f} N"],
        ["share on spinous processes", f"{a.spinous_share:.1%}"],
        ["highest % of pain threshold", f"{a.max_threshold_ratio:.0%}"],
        ["tissue indentation (max)", f"{res.contact.displacement_mm.max():.1f} mm"],
        [
            "tissue compression (max; validated to)",
            f"{a.max_compression:.0%} ({a.validated_compression:.0%})"
            + (f": beyond under {', '.join(a.beyond_validated)}" if a.beyond_validated else ""),
        ],
    ]


def _peak_rows(res: SimulationResult) -> list[list[str]]:
    return [
        [
            p.name,
            f"{p.summary.force_n:.1f}",
            f"{p.summary.peak_pressure_kpa:.0f}",
            f"{p.summary.mean_pressure_kpa:.0f}",
            f"{p.summary.contact_area_mm2:.0f}",
            f"{p.max_threshold_ratio:.0%}",
            f"{p.on_bone_share:.1%}",
        ]
        for p in res.assessment.peaks
    ]


def build_figures(proto: ProtocolResult, comparison: Comparison | None = None) -> list[ReportFigure]:
    """All figures of a report."""
    main = next((r for r in proto.steps if r.config.step == "lie_back"), proto.steps[0])
    figs = [
        ReportFigure("pressure_map", "Pressure map over the back (lying back)", figures.pressure_map(main)),
        ReportFigure("peaks", "Force per peak and pressure vs pain threshold", figures.peak_bars(main)),
        ReportFigure("protocol", "Protocol steps", figures.protocol_steps(proto)),
    ]
    if proto.breathing is not None:
        figs.append(ReportFigure("breathing", "Deep breathing cycle", figures.breathing_series(proto.breathing)))
    for r in proto.steps:
        if r.config.step.startswith("leg_"):
            figs.append(
                ReportFigure(
                    f"pressure_map_{r.config.step}", f"Pressure map, step {r.config.step}", figures.pressure_map(r)
                )
            )
    if comparison is not None:
        figs.append(ReportFigure("comparison", "Tool comparison", figures.comparison_maps(comparison.a, comparison.b)))
    return figs


def render_report(
    proto: ProtocolResult,
    comparison: Comparison | None = None,
    advice: Advice | None = None,
    figs: list[ReportFigure] | None = None,
) -> str:
    """The report as one HTML string (figures embedded)."""
    figs = figs if figs is not None else build_figures(proto, comparison)
    main = next((r for r in proto.steps if r.config.step == "lie_back"), proto.steps[0])
    cfg = main.config
    b = main.body
    ok = main.assessment.verdict.startswith("on muscle")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>spinerelease report: "
        f"{html.escape(main.tool.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>spinerelease report: {html.escape(main.tool.name)} at {html.escape(cfg.level)}</h1>",
        f"<p class='disclaimer'><b>Medical disclaimer.</b> {html.escape(DISCLAIMER)}</p>",
        f"<p>Body: {b.stature_cm:.0f} cm, {b.mass_kg:.0f} kg, {html.escape(b.sex)}, body fat "
        f"{b.body_fat:.0f}% · tool centre {cfg.offset_x_mm:+.0f} mm from the midline · grid "
        f"{cfg.spacing_mm:g} mm · tissue "
        f"{'skin and fat over muscle' if cfg.tissue_model == 'layers' else 'one modulus per column'}"
        f" · spinerelease {__version__}</p>",
        f"<p class='verdict {'ok' if ok else 'bad'}'>Verdict (lying back): {html.escape(main.assessment.verdict)}</p>",
    ]
    if advice is not None:
        parts.append("<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in advice.messages) + "</ul>")
    parts.append("<h2>Summary (lying back)</h2>" + _table(["quantity", "value"], _summary_rows(main)))
    parts.append(
        "<h2>Per peak</h2>"
        + _table(
            ["peak", "force [N]", "peak [kPa]", "mean [kPa]", "area [mm²]", "% threshold", "on spinous"],
            _peak_rows(main),
        )
    )
    parts.append(
        "<h2>Protocol steps</h2>"
        + _table(
            ["step", "forearm support", "roll", "force [N]", "peak [kPa]", "% threshold", "on spinous", "verdict"],
            [
                [
                    r.config.step,
                    f"{r.load.forearms_n:.0f} N",
                    f"{r.config.protocol_step().roll_deg:+.0f}°",
                    f"{r.contact.total_force_n:.1f}",
                    f"{r.assessment.summary.peak_pressure_kpa:.0f}",
                    f"{r.assessment.max_threshold_ratio:.0%}",
                    f"{r.assessment.spinous_share:.1%}",
                    r.assessment.verdict,
                ]
                for r in proto.steps
            ],
        )
    )
    if proto.breathing is not None:
        br = proto.breathing
        parts.append(
            f"<p>Deep breathing: force on the tool ranges {br.force_n.min():.1f}-{br.force_n.max():.1f} N,"
            f" peak pressure {br.peak_pressure_kpa.min():.0f}-{br.peak_pressure_kpa.max():.0f} kPa over "
            f"one breath of {br.t_s[-1]:.0f} s.</p>"
        )
    if comparison is not None:
        parts.append(
            "<h2>Comparison</h2>"
            + _table(
                ["claim", "supported", "evidence"],
                [[c.text, "yes" if c.supported else "no", c.evidence] for c in comparison.claims],
            )
        )
    parts.append("<h2>Figures</h2>")
    for f in figs:
        parts.append(
            f"<figure><img alt='{html.escape(f.caption)}' src='{_data_uri(f.figure)}'>"
            f"<figcaption>{html.escape(f.caption)} ({html.escape(f.stem)}.png)</figcaption></figure>"
        )
    parts.append(
        "<h2>References</h2><ol class='refs'>"
        + "".join(f"<li>{html.escape(r)}</li>" for r in cite(list(main.references)))
        + "</ol>"
    )
    parts.append("</body></html>")
    return "".join(parts)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the report normal file permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(
    proto: ProtocolResult,
    path: str | Path,
    comparison: Comparison | None = None,
    advice: Advice | None = None,
    png_dir: str | Path | None = None,
) -> Path:
    """Write the HTML report to ``path`` and, if ``png_dir`` is given, every figure as PNG there."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"report path must end in .html, got {str(path)!r}")
    if path.exists() and path.is_dir():
        raise InputError(f"report path {str(path)!r} is a folder")
    figs = build_figures(proto, comparison)
    text = render_report(proto, comparison, advice, figs)
    _atomic_write(path, text.encode("utf-8"))
    if png_dir is not None:
        for f in figs:
            buf = io.BytesIO()
            f.figure.savefig(buf, format="png", dpi=120)
            _atomic_write(Path(png_dir) / f"{f.stem}.png", buf.getvalue())
    return path
