"""The FastAPI application: HTML pages, a documented JSON API, background jobs and tool uploads.

Thin like the CLI: it validates input, calls :mod:`spinerelease.workflow` and presents the result. Pages are
plain HTML templates with a small vanilla-JS front end (``web/static``) that draws the pressure map on a
``<canvas>`` itself, so the app works offline. The OpenAPI description is served at ``/openapi.json``
(interactive docs at ``/docs`` need the Swagger UI from the internet; ``/api-reference`` is an offline summary).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import DISCLAIMER, __version__
from ..errors import InputError
from . import serialize
from .jobs import JobManager, Reporter, TooManyJobs
from .models import (
    BodyPlacement,
    CompareRequest,
    ErrorResponse,
    JobRequest,
    JobStatus,
    Meta,
    ProtocolJobRequest,
    SimulateJobRequest,
    SimulationRequest,
    ToolInfo,
)
from .uploads import DEFAULT_MAX_UPLOAD_BYTES, UPLOAD_PREFIX, UploadStore, UploadTooLarge

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

#: Hosts the app answers to by default (a local app: refuse other Host headers against DNS rebinding).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

PAGES = {"index": "Simulate", "compare": "Compare tools", "history": "Coach history", "api": "API reference"}

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request body (not parseable)."},
    422: {"model": ErrorResponse, "description": "Invalid input (field out of range, unknown tool, bad file)."},
}
JOB_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorResponse, "description": "Unknown job id."},
}


class WebState:
    """Everything the app holds between requests: jobs, uploads and settings."""

    def __init__(
        self,
        history_db: str | Path | None,
        min_spacing_mm: float,
        max_upload_bytes: int,
        job_workers: int,
        max_active_jobs: int,
    ) -> None:
        self.history_db = Path(history_db) if history_db is not None else None
        self.min_spacing_mm = float(min_spacing_mm)
        self.jobs = JobManager(workers=job_workers, max_active=max_active_jobs)
        self.uploads = UploadStore(max_bytes=max_upload_bytes)

    # -- requests -> library configs ----------------------------------------------------------------------------
    def tool_path(self, ref: str) -> str:
        """A tool reference as the workflow takes it: a built-in name, or the stored path of an upload."""
        from ..tools import list_tools

        if ref.startswith(UPLOAD_PREFIX):
            return str(self.uploads.get(ref).path)
        names = [n for n, _ in list_tools()]
        if ref not in names:
            raise InputError(f"unknown tool {ref!r}; built-in tools: {', '.join(names)} (or upload a tool file)")
        return ref

    def tool_name(self, ref: str, fallback: str) -> str:
        return self.uploads.get(ref).name if ref.startswith(UPLOAD_PREFIX) else fallback

    def config(self, req: BodyPlacement, tool_ref: str, tool_params: dict[str, float] | None = None):
        """Validate ``req`` and build a :class:`~spinerelease.workflow.SimulationConfig`."""
        from ..workflow import SimulationConfig

        if req.spacing_mm < self.min_spacing_mm:
            raise InputError(
                f"spacing_mm must be at least {self.min_spacing_mm:g} mm on this server, got {req.spacing_mm:g} mm"
            )
        if tool_params and tool_ref.startswith(UPLOAD_PREFIX):
            raise InputError("tool_params apply to built-in tools only; an uploaded tool has its own shape")
        cfg = SimulationConfig(
            stature_cm=req.stature_cm,
            mass_kg=req.mass_kg,
            sex=req.sex,
            body_fat_pct=req.body_fat_pct,
            age_years=req.age_years,
            tool=self.tool_path(tool_ref),
            level=req.level,
            offset_x_mm=req.offset_x_mm,
            offset_y_mm=req.offset_y_mm,
            step=req.step,
            forearm_support=req.forearm_support,
            roll_deg=req.roll_deg,
            spacing_mm=req.spacing_mm,
            tool_params=dict(tool_params or {}),
            tissue_model=req.tissue_model,
        )
        cfg.body()  # validate the body (BMI range etc.) before any heavy work
        cfg.protocol_step()
        return cfg

    # -- work functions (run in a request thread or a job thread) -----------------------------------------------
    def run_simulate(self, req: SimulationRequest, report: Reporter | None = None) -> dict[str, Any]:
        from ..workflow import advise, simulate

        report = report or _no_report
        cfg = self.config(req, req.tool, req.tool_params)
        report(0.05, "solving the contact")
        res = simulate(cfg)
        adv = None
        if req.advice:
            report(0.5, "computing advice (re-solving with corrections)")
            adv = advise(res)
        report(0.95, "preparing the result")
        d = serialize.result_dict(res, adv, tool_id=req.tool)
        d["tool"]["name"] = self.tool_name(req.tool, d["tool"]["name"])
        return d

    def run_compare(self, req: CompareRequest, report: Reporter | None = None) -> dict[str, Any]:
        from ..workflow import compare

        report = report or _no_report
        cfg = self.config(req, req.tool_a)
        path_b = self.tool_path(req.tool_b)
        report(0.05, "solving both tools")
        cmp = compare(cfg.tool, path_b, cfg)
        report(0.95, "preparing the result")
        d = serialize.comparison_dict(cmp, req.tool_a, req.tool_b)
        d["a"]["tool"]["name"] = self.tool_name(req.tool_a, d["a"]["tool"]["name"])
        d["b"]["tool"]["name"] = self.tool_name(req.tool_b, d["b"]["tool"]["name"])
        return d

    def run_protocol(self, req: ProtocolJobRequest, report: Reporter | None = None) -> dict[str, Any]:
        from ..posture import loaded_steps
        from ..workflow import simulate_protocol

        report = report or _no_report
        cfg = self.config(req.config, req.config.tool, req.config.tool_params)
        keys = [s.key for s in loaded_steps()]
        n_b = req.breathing_samples
        total = len(keys) + n_b
        bi = keys.index("breathing")

        def step_done(key: str) -> None:
            i = keys.index(key)
            nxt = (
                f"solving the breathing cycle ({n_b} samples)"
                if key == "breathing" and n_b
                else f"solved step {i + 1} of {len(keys)} ({key})"
            )
            report((i + 1 + (n_b if i > bi else 0)) / total, nxt)

        report(0.02, "solving the protocol steps")
        pr = simulate_protocol(cfg, breathing_samples=n_b, progress=step_done)
        d = serialize.protocol_dict(pr, tool_id=req.config.tool)
        if d.get("lie_back"):
            d["lie_back"]["tool"]["name"] = self.tool_name(req.config.tool, d["lie_back"]["tool"]["name"])
        return d

    def close(self) -> None:
        self.jobs.shutdown()
        self.uploads.close()


def _no_report(fraction: float, message: str) -> None:
    return None


@lru_cache(maxsize=16)
def _template(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def render_page(page: str) -> str:
    """The HTML of ``page`` (a key of :data:`PAGES`): the layout with the page's body and the disclaimer."""
    body = _template(f"{page}.html")
    active = ' class="active"'
    nav = "".join(
        f'<a href="{"/" if k == "index" else "/" + k}"{active if k == page else ""}>{html.escape(t)}</a>'
        for k, t in PAGES.items()
    )
    values = {
        "title": html.escape(PAGES[page]),
        "nav": nav,
        "body": body,
        "page": page,
        "disclaimer": html.escape(DISCLAIMER),
        "version": html.escape(__version__),
    }
    return re.sub(r"\{\{ (\w+) \}\}", lambda m: values[m.group(1)], _template("layout.html"))


def _field_errors(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        # discriminated unions add the tag to the location; keep it readable
        field = ".".join(loc) or "request"
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "string_pattern_mismatch" and loc and loc[-1].startswith("tool"):
            msg = "must be a built-in tool name (GET /api/tools) or an uploaded tool id (upload:...)"
        errors.append({"field": field, "message": msg})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "invalid request"
    return detail, errors


def create_app(
    *,
    history_db: str | Path | None = None,
    min_spacing_mm: float = 1.0,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    job_workers: int = 1,
    max_active_jobs: int = 4,
    allowed_hosts: Sequence[str] | None = LOCAL_HOSTS,
) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    history_db : path, optional
        The coach's history database (default: :func:`spinerelease.coach.default_db_path`).
    min_spacing_mm : float
        Finest grid spacing a request may ask for (bounds the work of one request). [mm]
    max_upload_bytes : int
        Largest uploaded tool file. [bytes]
    job_workers : int
        Background solves running at the same time (threads).
    max_active_jobs : int
        Most queued plus running jobs; more get HTTP 429.
    allowed_hosts : sequence of str or None
        Host headers accepted (default: loopback names only); None accepts any host.

    Returns
    -------
    FastAPI
    """
    state = WebState(history_db, min_spacing_mm, max_upload_bytes, job_workers, max_active_jobs)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.close()

    app = FastAPI(
        title="spinerelease",
        version=__version__,
        lifespan=lifespan,
        description="Simulate, compare and guide gravity-loaded self-massage tools on the back.\n\n" + DISCLAIMER,
    )
    app.state.web = state
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.middleware("http")
    async def headers(request: Request, call_next):
        if request.url.path == "/api/tools/upload":
            try:
                length = int(request.headers.get("content-length", "0"))
            except ValueError:
                length = 0
            if length > state.uploads.max_bytes + 64 * 1024:
                return JSONResponse(
                    {"detail": f"the file is larger than the {state.uploads.max_bytes / 1024**2:g} MiB upload limit"},
                    status_code=413,
                )
        response = await call_next(request)
        if response.status_code == 405:
            # one path, several routes (GET and DELETE /api/jobs/{id}): list every method the path supports
            methods = {
                m
                for r in app.routes
                if isinstance(r, APIRoute) and r.path_regex.match(request.url.path)
                for m in r.methods
            }
            response.headers["Allow"] = ", ".join(sorted(methods))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/docs"):
            response.headers["Content-Security-Policy"] = CSP
        return response

    @app.exception_handler(UploadTooLarge)
    async def too_large(request: Request, exc: UploadTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _field_errors(exc)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(TooManyJobs)
    async def too_many(request: Request, exc: TooManyJobs) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # -- pages ----------------------------------------------------------------------------------------------------
    for _page in PAGES:

        def _make(page: str = _page):
            async def page_view() -> HTMLResponse:
                return HTMLResponse(render_page(page))

            page_view.__name__ = f"page_{page}"
            return page_view

        app.get("/" if _page == "index" else f"/{_page}", response_class=HTMLResponse, include_in_schema=False)(_make())

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    # -- API ------------------------------------------------------------------------------------------------------
    @app.get("/api/meta", response_model=Meta, tags=["meta"], summary="Choices and limits for the forms")
    def meta() -> dict[str, Any]:
        from ..anatomy import LEVELS
        from ..posture import loaded_steps

        return {
            "levels": list(LEVELS),
            "steps": [
                {
                    "key": s.key,
                    "title": s.title,
                    "instruction": s.instruction,
                    "forearm_support": s.forearm_support,
                    "roll_deg": s.roll_deg,
                    "leg_extended": s.leg_extended,
                    "breathing": s.breathing,
                }
                for s in loaded_steps()
            ],
            "region_names": serialize.region_names(),
            "disclaimer": DISCLAIMER,
            "min_spacing_mm": state.min_spacing_mm,
            "max_upload_bytes": state.uploads.max_bytes,
            "version": __version__,
        }

    @app.get("/api/tools", response_model=list[ToolInfo], tags=["tools"], summary="Built-in and uploaded tools")
    def tools() -> list[dict[str, Any]]:
        import inspect

        from ..tools import BUILTIN, list_tools

        out = []
        for name, desc in list_tools():
            sig = inspect.signature(BUILTIN[name])
            # numeric parameters of the tool function; null = the tool's cited default dimension
            params = {
                k: (None if p.default is None else float(p.default))
                for k, p in sig.parameters.items()
                if k != "spacing_mm" and (p.default is None or isinstance(p.default, int | float))
            }
            out.append({"id": name, "name": name, "description": desc, "builtin": True, "parameters": params or None})
        for u in state.uploads.items():
            out.append(
                {
                    "id": u.id,
                    "name": u.name,
                    "description": u.description,
                    "builtin": False,
                    "peaks": list(u.peaks),
                    "size_mm": list(u.size_mm),
                }
            )
        return out

    @app.post(
        "/api/tools/upload",
        response_model=ToolInfo,
        status_code=201,
        tags=["tools"],
        summary="Upload a tool (JSON/YAML description or STL mesh)",
        responses={**ERRORS, 413: {"model": ErrorResponse, "description": "File too large."}},
    )
    def upload_tool(
        file: UploadFile = File(..., description="A .json, .yaml, .yml or .stl tool file."),
    ) -> dict[str, Any]:
        item = state.uploads.add(file.filename, file.file)
        return {
            "id": item.id,
            "name": item.name,
            "description": item.description,
            "builtin": False,
            "peaks": list(item.peaks),
            "size_mm": list(item.size_mm),
        }

    @app.post(
        "/api/simulate", tags=["simulation"], summary="Simulate one tool placement (synchronous)", responses=ERRORS
    )
    def api_simulate(req: SimulationRequest) -> dict[str, Any]:
        return state.run_simulate(req)

    @app.post(
        "/api/compare",
        tags=["simulation"],
        summary="Compare two tools on the same body (synchronous)",
        responses=ERRORS,
    )
    def api_compare(req: CompareRequest) -> dict[str, Any]:
        return state.run_compare(req)

    @app.post(
        "/api/jobs",
        response_model=JobStatus,
        status_code=202,
        tags=["jobs"],
        summary="Start a background simulation, protocol or comparison",
        responses={**ERRORS, 429: {"model": ErrorResponse, "description": "Too many jobs running."}},
    )
    def start_job(req: JobRequest) -> dict[str, Any]:
        # validate everything now, so a bad request fails here and not later in the job
        if isinstance(req, SimulateJobRequest):
            state.config(req.config, req.config.tool, req.config.tool_params)
            job = state.jobs.submit("simulate", lambda rep: state.run_simulate(req.config, rep))
        elif isinstance(req, ProtocolJobRequest):
            state.config(req.config, req.config.tool, req.config.tool_params)
            job = state.jobs.submit("protocol", lambda rep: state.run_protocol(req, rep))
        else:
            state.config(req.config, req.config.tool_a)
            state.tool_path(req.config.tool_b)
            job = state.jobs.submit("compare", lambda rep: state.run_compare(req.config, rep))
        return state.jobs.status(job.id)

    JobId = PathParam(pattern=r"^[0-9a-f]{16}$", description="Job id from POST /api/jobs.")

    @app.get(
        "/api/jobs/{job_id}",
        response_model=JobStatus,
        tags=["jobs"],
        summary="Progress and result of a job",
        responses=JOB_ERRORS,
    )
    def job_status(job_id: str = JobId) -> dict[str, Any]:
        try:
            return state.jobs.status(job_id)
        except KeyError:
            raise HTTPException(404, f"unknown job {job_id!r}") from None

    @app.delete(
        "/api/jobs/{job_id}", response_model=JobStatus, tags=["jobs"], summary="Cancel a job", responses=JOB_ERRORS
    )
    def cancel_job(job_id: str = JobId) -> dict[str, Any]:
        try:
            return state.jobs.cancel(job_id)
        except KeyError:
            raise HTTPException(404, f"unknown job {job_id!r}") from None

    @app.get(
        "/api/history",
        tags=["coach"],
        summary="The coach's session history",
        responses={**ERRORS, 503: {"model": ErrorResponse, "description": "Coach module not installed."}},
    )
    def history() -> dict[str, Any]:
        try:
            import spinerelease.coach  # noqa: F401
        except ImportError:
            raise HTTPException(503, "the coach's history is not available in this installation") from None
        return history_dict(state.history_db)

    return app


def history_dict(db: Path | None) -> dict[str, Any]:
    """The coach's history as a JSON-ready dict (empty when there is no database yet; never creates one)."""
    from datetime import date

    from ..coach import HistoryStore, default_db_path, sessions_per_week, streak_days

    path = db if db is not None else default_db_path()
    empty = {"exists": False, "sessions": [], "per_week": {}, "streak_days": 0, "pain_by_step": {}}
    if not path.exists():
        return empty
    store = HistoryStore(path)
    try:
        rows = store.sessions()
        steps = store.steps()
    finally:
        store.close()
    pain: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        if s.get("pain") is not None:
            pain.setdefault(s["step_key"], []).append({"session_id": s["session_id"], "pain": s["pain"]})
    return {
        "exists": True,
        "sessions": [
            {
                "id": r.id,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "tool": r.tool,
                "target": r.target,
                "level": r.level,
                "forearm_support": serialize.num(r.forearm_support),
                "status": r.status,
                "note": r.note,
                "mean_pain": serialize.num(r.mean_pain, 2),
                "steps_done": r.steps_done,
            }
            for r in rows
        ],
        "per_week": sessions_per_week(rows),
        "streak_days": streak_days(rows, date.today()),
        "pain_by_step": pain,
    }
