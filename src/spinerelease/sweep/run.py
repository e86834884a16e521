"""Population sweeps: (body x level x step) work items evaluated serially or on Dask, streamed to Parquet.

Results are written in part files (``part-00000.parquet`` ...) as work completes; a rerun reads the ids
already stored and evaluates only the rest, so an interrupted sweep resumes where it stopped. The default
executor is a local Dask cluster of processes; ``scheduler=ADDRESS`` uses an existing Dask distributed
cluster; ``scheduler="serial"`` runs in this process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, check_choice
from .population import Person


@dataclass(frozen=True)
class WorkItem:
    """One evaluation: a person, a vertebral level, a protocol step, a tool and its parameters."""

    person: Person
    level: str
    step: str
    tool: str = "pso-spine"
    spacing_mm: float = 2.0
    tool_params: tuple = ()
    tissue_model: str = "layers"

    @property
    def id(self) -> str:
        """Identity of the result row; it names the tissue model, so a folder written with another model (or by
        a version before the two-layer model, whose ids have no model) is not taken for this one's results."""
        tp = ",".join(f"{k}={v:g}" for k, v in self.tool_params)
        return f"{self.person.id}|{self.level}|{self.step}|{self.tool}|{self.spacing_mm:g}|{tp}|{self.tissue_model}"


def make_items(
    people: Sequence[Person],
    levels: Sequence[str],
    steps: Sequence[str],
    tool: str = "pso-spine",
    spacing_mm: float = 2.0,
    tool_params: dict | None = None,
    tissue_model: str = "layers",
) -> list[WorkItem]:
    """Every (person, level, step) combination."""
    from ..workflow import TISSUE_MODELS

    tm = check_choice("tissue model", tissue_model, TISSUE_MODELS)
    tp = tuple(sorted((tool_params or {}).items()))
    return [WorkItem(p, lv, st, tool, spacing_mm, tp, tm) for p in people for lv in levels for st in steps]


def evaluate(item: WorkItem) -> dict:
    """Simulate one work item and flatten the assessment into a result row."""
    from ..workflow import SimulationConfig, simulate

    p = item.person
    cfg = SimulationConfig(
        stature_cm=p.stature_cm,
        mass_kg=p.mass_kg,
        sex=p.sex,
        age_years=p.age_years,
        tool=item.tool,
        level=item.level,
        step=item.step,
        spacing_mm=item.spacing_mm,
        tool_params=dict(item.tool_params),
        tissue_model=item.tissue_model,
    )
    row = {
        "id": item.id,
        "person": p.id,
        "sex": p.sex,
        "stature_cm": p.stature_cm,
        "mass_kg": p.mass_kg,
        "age_years": p.age_years,
        "level": item.level,
        "step": item.step,
        "tool": item.tool,
    }
    try:
        r = simulate(cfg)
    except InputError as exc:
        row.update(error=str(exc), ok=False)
        return row
    a = r.assessment
    row.update(
        error="",
        force_n=r.contact.total_force_n,
        peak_pressure_kpa=a.summary.peak_pressure_kpa,
        probe_peak_kpa=a.probe_peak_kpa,
        spinous_share=a.spinous_share,
        max_threshold_ratio=a.max_threshold_ratio,
        max_compression=a.max_compression,
        peaks_beyond_validated=len(a.beyond_validated),
        verdict=a.verdict,
        ok=a.verdict.startswith("on muscle"),
    )
    for i, pk in enumerate(a.peaks, start=1):
        row[f"peak{i}_force_n"] = pk.summary.force_n
        row[f"peak{i}_ratio"] = pk.max_threshold_ratio
        row[f"peak{i}_on_bone"] = pk.on_bone_share
        row[f"peak{i}_compression"] = pk.max_compression
        bone_of_total = pk.on_bone_share * pk.summary.force_n / max(a.summary.force_n, 1e-12)
        row[f"peak{i}_ok"] = bool(pk.max_threshold_ratio <= 1.0 and bone_of_total <= 0.05)
    return row


def evaluate_single_threaded(item: WorkItem, evaluate_fn: Callable[[WorkItem], dict] = evaluate) -> dict:
    """``evaluate_fn(item)`` with single-threaded FFTs: parallelism comes from the worker processes."""
    from ..contact import solver

    solver.FFT_WORKERS = 1
    return evaluate_fn(item)


class ResultStore:
    """Append-only part files of result rows in a folder (Parquet, or CSV when ``fmt="csv"``)."""

    def __init__(self, folder: str | Path, fmt: str = "parquet") -> None:
        if fmt not in ("parquet", "csv"):
            raise InputError(f"result format must be parquet or csv, got {fmt!r}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{self.folder} exists and is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt

    def parts(self) -> list[Path]:
        return sorted(self.folder.glob(f"part-*.{self.fmt}"))

    def done_ids(self) -> set[str]:
        import pandas as pd

        ids: set[str] = set()
        for p in self.parts():
            df = pd.read_parquet(p, columns=["id"]) if self.fmt == "parquet" else pd.read_csv(p, usecols=["id"])
            ids.update(df["id"].astype(str))
        return ids

    def append(self, rows: list[dict]) -> None:
        """Write ``rows`` as a new part file (atomically: temporary name, then rename)."""
        if not rows:
            return
        import pandas as pd

        df = pd.DataFrame(rows)
        name = f"part-{len(self.parts()):05d}-{uuid.uuid4().hex[:8]}.{self.fmt}"
        tmp = self.folder / f".{name}.tmp"
        if self.fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, self.folder / name)

    def load(self):
        import pandas as pd

        parts = self.parts()
        if not parts:
            return pd.DataFrame()
        read = pd.read_parquet if self.fmt == "parquet" else pd.read_csv
        return pd.concat([read(p) for p in parts], ignore_index=True).sort_values("id").reset_index(drop=True)


def run_sweep(
    items: Iterable[WorkItem],
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    batch: int = 8,
    fmt: str = "parquet",
    evaluate_fn: Callable[[WorkItem], dict] = evaluate,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
):
    """Evaluate the items not yet stored in ``out_dir`` and return their results as a DataFrame.

    Rows in the folder that belong to other items (another sweep, another tissue model) are kept on disk but
    not returned.

    Parameters
    ----------
    items : iterable of WorkItem
    out_dir : path
        Result folder (created; existing results are kept and skipped).
    scheduler : str, optional
        ``None``: a new local Dask cluster of processes; ``"serial"``: this process; otherwise the address of
        a Dask distributed scheduler (``tcp://host:8786``).
    workers : int, optional
        Worker processes of the local cluster (default: CPU count).
    batch : int
        Results per part file.
    stop_after : int, optional
        Stop (as if interrupted) after this many new results have been written (for testing resume).
    """
    store = ResultStore(out_dir, fmt)
    items = list(items)
    done = store.done_ids()
    todo = [it for it in items if it.id not in done]
    total = len(todo)
    if progress:
        progress(0, total)
    buf: list[dict] = []
    written = 0

    def flush() -> None:
        nonlocal buf, written
        store.append(buf)
        written += len(buf)
        buf = []

    def accept(row: dict) -> bool:
        buf.append(row)
        if progress:
            progress(written + len(buf), total)
        if len(buf) >= batch:
            flush()
        return stop_after is not None and written >= stop_after

    if scheduler == "serial" or not todo:
        for it in todo:
            if accept(evaluate_fn(it)):
                break
        flush()
        return _only(store.load(), items)

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(f"could not connect to the Dask scheduler at {scheduler}: {exc}") from None
    try:
        futures = client.map(evaluate_single_threaded, todo, evaluate_fn=evaluate_fn, pure=False)
        stopped = False
        for fut in as_completed(futures):
            if accept(fut.result()):
                stopped = True
                break
        if stopped:
            client.cancel(futures)
        flush()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return _only(store.load(), items)


def _only(df, items: list[WorkItem]):
    """The rows of ``df`` whose id is one of ``items``'."""
    if df.empty:
        return df
    return df[df["id"].isin({it.id for it in items})].reset_index(drop=True)


def summarize(df) -> dict:
    """Share of (person, level, step) cases where every peak is on muscle and under the pain threshold, by peak,
    level and sex, and the share where some peak squeezes the tissue beyond the compression up to which the
    contact engine is validated (``beyond_validated_rate``; docs/assessment.md)."""
    if df is None or len(df) == 0:
        return {"cases": 0}
    out = {"cases": int(len(df)), "people": int(df["person"].nunique()), "pass_rate": float(df["ok"].mean())}
    peaks = sorted({c.split("_")[0] for c in df.columns if c.startswith("peak") and c.endswith("_ok")})
    out["peak_pass_rate"] = {p: float(df[f"{p}_ok"].fillna(False).astype(bool).mean()) for p in peaks}
    out["by_level"] = {k: float(v) for k, v in df.groupby("level")["ok"].mean().items()}
    out["by_sex"] = {k: float(v) for k, v in df.groupby("sex")["ok"].mean().items()}
    if "peaks_beyond_validated" in df:  # absent from result files written before it was recorded
        beyond = df["peaks_beyond_validated"].dropna()
        out["beyond_validated_rate"] = float((beyond > 0).mean()) if len(beyond) else 0.0
    return out


def sweep_figure(df):
    """Histograms of the threshold ratio and spinous share, and a stature-mass map of failing cases."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ok = df["ok"].astype(bool)
    ax1.hist(100 * df["max_threshold_ratio"].dropna(), bins=20, color="#dd8452")
    ax1.axvline(100, color="k", ls="--")
    ax1.set_xlabel("% of pain threshold")
    ax1.set_ylabel("cases")
    ax2.hist(100 * df["spinous_share"].dropna(), bins=20, color="#8c8c8c")
    ax2.axvline(5, color="k", ls="--")
    ax2.set_xlabel("% of force on spinous processes")
    ax3.scatter(df.loc[ok, "stature_cm"], df.loc[ok, "mass_kg"], s=10, c="#55a868", label="pass")
    ax3.scatter(df.loc[~ok, "stature_cm"], df.loc[~ok, "mass_kg"], s=14, c="#c44e52", marker="x", label="fail")
    ax3.set_xlabel("stature [cm]")
    ax3.set_ylabel("mass [kg]")
    ax3.legend(fontsize=8)
    fig.suptitle(f"{len(df)} cases, pass rate {ok.mean():.0%}", fontsize=10)
    return fig
