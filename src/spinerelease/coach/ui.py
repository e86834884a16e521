"""Rich terminal user interface of the coach (timers with progress bars, prompts)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.prompt import IntPrompt, Prompt

from ..posture.protocol import ProtocolStep


class RichPrompter:
    """Terminal prompter: a panel per step, a progress bar for its timer, Ctrl-C to pause."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.progress: Progress | None = None
        self.task = None

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def show_step(self, step: ProtocolStep, index: int, total: int) -> None:
        self._stop()
        self.console.print(
            Panel(step.instruction, title=f"Step {index + 1}/{total}: {step.title}", subtitle="Ctrl-C pauses")
        )
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), console=self.console, transient=True
        )
        self.progress.start()
        self.task = self.progress.add_task(step.title, total=step.duration_s)

    def tick(self, step: ProtocolStep, elapsed_s: float, cue: str) -> str:
        if self.progress is not None:
            desc = f"{step.title} - [bold cyan]{cue.upper()}[/]" if cue else step.title
            self.progress.update(self.task, completed=elapsed_s, description=desc)
        return "ok"

    def pause_menu(self, step: ProtocolStep) -> str:
        self._stop()
        c = Prompt.ask(
            "Paused. \\[r]esume, \\[s]kip this step, re\\[p]eat it, \\[q]uit",
            choices=["r", "s", "p", "q"],
            default="r",
            console=self.console,
        )
        if c == "r":
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(step.title, total=step.duration_s)
        return {"r": "resume", "s": "skip", "p": "repeat", "q": "quit"}[c]

    def ask_pain(self, step: ProtocolStep) -> int:
        self._stop()
        while True:
            v = IntPrompt.ask("Pain right now, 0 (none) to 10 (worst)", console=self.console)
            if 0 <= v <= 10:
                return v
            self.console.print("[red]Please enter a whole number from 0 to 10.[/]")

    def after_step(self, step: ProtocolStep) -> str:
        self._stop()
        c = Prompt.ask(
            "\\[n]ext step, \\[r]epeat this step, \\[q]uit", choices=["n", "r", "q"], default="n", console=self.console
        )
        return {"n": "next", "r": "repeat", "q": "quit"}[c]

    def message(self, text: str) -> None:
        self._stop()
        self.console.print(text)
