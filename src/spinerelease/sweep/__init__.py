"""Population sweeps and tool design optimisation (serial or on Dask)."""

from .design import BOUNDS, DesignResult, design_figure, optimize_design, score
from .population import Person, sample_population
from .run import ResultStore, WorkItem, evaluate, make_items, run_sweep, summarize, sweep_figure

__all__ = [
    "BOUNDS",
    "DesignResult",
    "Person",
    "ResultStore",
    "WorkItem",
    "design_figure",
    "evaluate",
    "make_items",
    "optimize_design",
    "run_sweep",
    "sample_population",
    "score",
    "summarize",
    "sweep_figure",
]
