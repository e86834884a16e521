"""The PSO-Spine protocol as declarative steps, used by the simulator and the coach alike.

Like a PyBaMM ``Experiment``: a protocol is a tuple of :class:`ProtocolStep` records. The simulator turns each
step into a posture state (forearm support, leg extension, roll, breathing) and solves the contact; the coach
turns the same steps into timed, guided instructions. One description, two uses.

The step sequence follows the manufacturer's published instructions for the PSO-Spine (sit with the tool
upright behind you, lower yourself on hands and forearms, check the peaks sit either side of the spine, lie
back, breathe deeply, extend one leg and rotate onto that side, switch sides, come up slowly).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import InputError, check_range

#: Valid values of :attr:`ProtocolStep.leg_extended`.
LEG_CHOICES = ("none", "left", "right")


@dataclass(frozen=True)
class ProtocolStep:
    """One step of a guided self-massage protocol.

    Attributes
    ----------
    key : str
        Short identifier (``"forearms"``).
    title : str
        Title shown to the user.
    instruction : str
        What to do, in plain words.
    duration_s : float
        Suggested duration. [s]
    forearm_support : float
        Fraction of the trunk-head-arms weight that the person holds on hands/forearms in this step, 0..1.
        [-] (1 = all weight held off the tool; the tool is not loaded in the seated step.)
    head_on_floor : bool
        True if the head rests on the floor (or a pillow) and carries the head's weight.
    leg_extended : str
        ``"none"``, ``"left"`` or ``"right"``: which leg is extended (the other knee bent, foot on floor).
    roll_deg : float
        Rotation of the trunk about the spine axis, positive = rolled onto the right side. [degrees]
    breathing : bool
        True if the step is a paced deep-breathing cycle (the simulator produces a time series).
    ask_pain : bool
        True if the coach asks for a 0-10 pain rating after the step.
    loaded : bool
        False for steps where the back is not on the tool (seated set-up, coming up).
    """

    key: str
    title: str
    instruction: str
    duration_s: float
    forearm_support: float = 0.0
    head_on_floor: bool = True
    leg_extended: str = "none"
    roll_deg: float = 0.0
    breathing: bool = False
    ask_pain: bool = False
    loaded: bool = True

    def __post_init__(self) -> None:
        check_range("step duration", self.duration_s, 0, 3600, "s")
        check_range("forearm support", self.forearm_support, 0, 1)
        check_range("roll angle", self.roll_deg, -45, 45, "degrees")
        if self.leg_extended not in LEG_CHOICES:
            raise InputError(f"leg_extended must be one of {', '.join(LEG_CHOICES)}; got {self.leg_extended!r}")

    def with_support(self, forearm_support: float) -> ProtocolStep:
        """The same step with another forearm support fraction."""
        return replace(self, forearm_support=forearm_support)


#: Roll used for "rotate deeper onto one side" (the instructions give no angle; 15 degrees is a moderate
#: trunk rotation well inside the supine axial-rotation range; it is a user parameter everywhere).
DEFAULT_ROLL_DEG = 15.0

PSO_SPINE_PROTOCOL: tuple[ProtocolStep, ...] = (
    ProtocolStep(
        "seated",
        "Set up",
        "Sit on the floor, knees bent. Stand the tool upright behind you with "
        "the peaks facing your back, at the level you want to treat.",
        20,
        forearm_support=1.0,
        head_on_floor=False,
        loaded=False,
    ),
    ProtocolStep(
        "forearms",
        "Lower on your forearms",
        "Lean back slowly onto your hands, then your forearms, "
        "letting the peaks meet your back. Keep most of your weight on your arms.",
        30,
        forearm_support=0.6,
        head_on_floor=False,
        ask_pain=True,
    ),
    ProtocolStep(
        "check",
        "Check the placement",
        "Feel that the peaks sit left and right of your spine, on the "
        "muscle, not on the bony bumps of the spine. Adjust if needed.",
        15,
        forearm_support=0.6,
        head_on_floor=False,
    ),
    ProtocolStep(
        "lie_back",
        "Lie back",
        "Slowly let your weight onto the tool and rest your head on the floor "
        "or a pillow. Gauge the pressure: it should feel strong but tolerable.",
        30,
        ask_pain=True,
    ),
    ProtocolStep(
        "breathing",
        "Breathe deeply",
        "Breathe in slowly through your nose for about 4 seconds and "
        "out for about 6 seconds. Let the back relax onto the peaks as you exhale.",
        60,
        breathing=True,
        ask_pain=True,
    ),
    ProtocolStep(
        "leg_left",
        "Extend the left leg, roll left",
        "Straighten your left leg and rotate your body gently deeper onto your left side. Keep breathing.",
        45,
        leg_extended="left",
        roll_deg=-DEFAULT_ROLL_DEG,
        ask_pain=True,
    ),
    ProtocolStep(
        "leg_right",
        "Switch sides",
        "Bend the left knee again, straighten your right leg and rotate gently onto your right side.",
        45,
        leg_extended="right",
        roll_deg=DEFAULT_ROLL_DEG,
        ask_pain=True,
    ),
    ProtocolStep(
        "come_up",
        "Come up slowly",
        "Bend both knees, roll to one side off the tool and come up slowly with the help of your arms.",
        20,
        forearm_support=1.0,
        head_on_floor=False,
        loaded=False,
    ),
)


def loaded_steps(protocol: tuple[ProtocolStep, ...] = PSO_SPINE_PROTOCOL) -> tuple[ProtocolStep, ...]:
    """Steps in which the back rests on the tool (the ones the simulator solves)."""
    return tuple(s for s in protocol if s.loaded)


def get_step(key: str, protocol: tuple[ProtocolStep, ...] = PSO_SPINE_PROTOCOL) -> ProtocolStep:
    """The step named ``key``; :class:`InputError` listing valid keys otherwise."""
    for s in protocol:
        if s.key == key:
            return s
    raise InputError(f"unknown protocol step {key!r}; valid steps: {', '.join(s.key for s in protocol)}")
