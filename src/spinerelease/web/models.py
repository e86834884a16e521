"""Request and response models of the JSON API (pydantic), with the numeric ranges of every field.

The ranges repeat the library's own checks (``spinerelease.anatomy.Body``, ``ProtocolStep``) so that a bad value
is refused by the API with a field-level message before any work starts; the library still validates everything
again (and its :class:`~spinerelease.errors.InputError` is returned as HTTP 422 too).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..anatomy import LEVELS
from ..posture import PSO_SPINE_PROTOCOL

#: Vertebral levels the tool centre can be placed at.
Level = Literal[tuple(LEVELS)]  # type: ignore[valid-type]
#: Protocol steps in which the back rests on the tool (the ones that can be simulated).
StepKey = Literal[tuple(s.key for s in PSO_SPINE_PROTOCOL if s.loaded)]  # type: ignore[valid-type]

#: A tool reference: a built-in name (``pso-spine``) or an uploaded tool id (``upload:<32 hex digits>``).
#: Never a file-system path.
TOOL_PATTERN = r"^(upload:[0-9a-f]{32}|[a-z][a-z0-9\-]{0,39})$"
ToolRef = Annotated[
    str,
    Field(
        pattern=TOOL_PATTERN,
        min_length=1,
        max_length=48,
        description="Built-in tool name (GET /api/tools) or an uploaded tool id.",
    ),
]

ParamName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
ParamValue = Annotated[float, Field(ge=-1000.0, le=1000.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BodyPlacement(_Strict):
    """Body, placement and posture shared by a simulation and a comparison."""

    stature_cm: float = Field(178.0, ge=120, le=220, description="Standing height. [cm]")
    mass_kg: float = Field(80.0, ge=30, le=250, description="Body mass. [kg]")
    sex: Literal["male", "female"] = "male"
    body_fat_pct: float | None = Field(
        None, ge=3, le=60, description="Body fat [%]; estimated from BMI, age and sex when null."
    )
    age_years: float = Field(35.0, ge=16, le=100, description="Age. [years]")
    level: Level = Field("T7", description="Vertebral level under the tool centre.")
    offset_x_mm: float | None = Field(
        None,
        ge=-150,
        le=150,
        description=("Lateral offset of the tool centre, + = the person's right [mm]; null = the tool's default."),
    )
    offset_y_mm: float = Field(
        0.0, ge=-100, le=100, description="Shift along the spine from the level, + = towards the pelvis. [mm]"
    )
    step: StepKey = Field(
        "lie_back",
        description=(
            "Protocol step (posture): forearms, check, lie_back, breathing, leg_left (left leg extended, rolled "
            "left), leg_right."
        ),
    )
    forearm_support: float | None = Field(
        None,
        ge=0,
        le=0.95,
        description=("Fraction of upper-body weight held on the forearms; null = the step's own value. [-]"),
    )
    roll_deg: float | None = Field(
        None,
        ge=-45,
        le=45,
        description=(
            "Roll of the trunk about the spine, + = onto the right side; null = the step's own value. [degrees]"
        ),
    )
    spacing_mm: float = Field(
        2.0,
        ge=1.0,
        le=5.0,
        description=(
            "Grid spacing of the solve [mm]: 1 mm is the reference resolution, 2 mm is about ten times faster."
        ),
    )
    tissue_model: Literal["layers", "column"] = Field(
        "layers",
        description=(
            "Soft tissue in the contact model: layers = skin and fat over muscle over bone (default); column = one "
            "modulus per tissue column, fat and muscle in series."
        ),
    )


class SimulationRequest(BodyPlacement):
    """One simulation: body, tool, placement and posture."""

    tool: ToolRef = "pso-spine"
    tool_params: dict[ParamName, ParamValue] = Field(
        default_factory=dict,
        max_length=8,
        description=("Parameters of a built-in tool (e.g. peak_spacing_mm), see GET /api/tools."),
    )
    advice: bool = Field(True, description="Also compute advice (re-solves the contact; slower).")


class CompareRequest(BodyPlacement):
    """Two tools on the same body, level and posture."""

    tool_a: ToolRef = "pso-spine"
    tool_b: ToolRef = "pso-rite"


class SimulateJobRequest(_Strict):
    kind: Literal["simulate"]
    config: SimulationRequest = Field(default_factory=SimulationRequest)


class ProtocolJobRequest(_Strict):
    kind: Literal["protocol"]
    config: SimulationRequest = Field(default_factory=SimulationRequest)
    breathing_samples: int = Field(12, ge=0, le=48, description="Samples of the breathing cycle (0 = none).")


class CompareJobRequest(_Strict):
    kind: Literal["compare"]
    config: CompareRequest = Field(default_factory=CompareRequest)


JobRequest = Annotated[SimulateJobRequest | ProtocolJobRequest | CompareJobRequest, Field(discriminator="kind")]


class ErrorResponse(BaseModel):
    """Every error of the API: one sentence in ``detail``; field errors listed in ``errors``."""

    detail: str
    errors: list[dict[str, Any]] | None = None


class JobStatus(BaseModel):
    """State of a background job."""

    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    message: str
    error: str | None = None
    result: dict[str, Any] | None = None


class ToolInfo(BaseModel):
    """A tool that can be simulated."""

    id: str
    name: str
    description: str
    builtin: bool
    peaks: list[str] = Field(default_factory=list)
    size_mm: list[float] | None = None
    parameters: dict[str, float | None] | None = None


class Meta(BaseModel):
    """Choices for the form: levels, protocol steps, region names, disclaimer, limits."""

    levels: list[str]
    steps: list[dict[str, Any]]
    region_names: dict[str, str]
    disclaimer: str
    min_spacing_mm: float
    max_upload_bytes: int
    version: str
