"""The run card: the compact output a `%%mlrun` cell (and `%mlws open RUN`) shows.

Called by `notebook/mlrun.py` (shown with a display id while the cell runs,
then updated in place with the final status and duration, so a saved or
nbclient-executed notebook holds the final card) and by `%mlws open`.

Decisions:
- A mime bundle: `text/html` for JupyterLab/Notebook/VS Code and a one-line
  `text/plain` fallback for terminals and plain-text renderers.
- The link `<a class="mlws-run-link" data-mlws-run="RUN_ID" href="#">` is
  what the labextension listens for (it opens the run in the sidebar with the
  command `mlws:open-run`); without the labextension it is an inert anchor.
- Every piece of user text (run, experiment and parent names, the status
  reason) is `html.escape`d (RELIABILITY A9); the card carries no script.
- Inline styles only, with JupyterLab's CSS variables and plain fallbacks,
  so the card reads in light and dark themes without a stylesheet.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

_STATUS_COLOURS = {
    "running": "#1a73e8",
    "completed": "#188038",
    "failed": "#d93025",
    "killed": "#b06000",
    "canceled": "#5f6368",
    "queued": "#5f6368",
}


@dataclass
class CardFacts:
    """What a card shows about one run."""

    run_id: str
    name: str
    experiment: str
    status: str
    duration_s: float | None = None
    reason: str | None = None
    #: One line about the cell itself, e.g. names it read from cells out of order (repro/order.py).
    notice: str | None = None


def format_duration(seconds: float | None) -> str:
    """`0.42 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`; an em dash when unknown."""
    if seconds is None:
        return "\u2014"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def card_text(facts: CardFacts) -> str:
    """The plain-text fallback."""
    line = (
        f"mlws run {facts.name} [{facts.status}] {format_duration(facts.duration_s)} "
        f"\u00b7 experiment {facts.experiment} \u00b7 {facts.run_id}"
    )
    if facts.reason and facts.status != "completed":
        line += f"\n  {facts.reason}"
    if facts.notice:
        line += f"\n  \u26a0 {facts.notice}"
    return line


def card_html(facts: CardFacts) -> str:
    """The HTML card (all user text escaped)."""
    esc = html.escape
    colour = _STATUS_COLOURS.get(facts.status, "#5f6368")
    reason = ""
    if facts.reason and facts.status != "completed":
        reason = (
            '<div class="mlws-run-card-reason" style="margin-top:2px;'
            'color:var(--jp-content-font-color2,#666);white-space:pre-wrap">'
            f"{esc(facts.reason)}</div>"
        )
    if facts.notice:
        reason += (
            '<div class="mlws-run-card-notice" style="margin-top:2px;'
            'color:var(--jp-warn-color0,#b06000);white-space:pre-wrap">'
            f"\u26a0 {esc(facts.notice)}</div>"
        )
    return (
        f'<div class="mlws-run-card" data-mlws-run="{esc(facts.run_id)}" '
        'style="display:inline-block;border:1px solid var(--jp-border-color2,#ddd);'
        "border-radius:4px;padding:4px 10px;font-size:var(--jp-ui-font-size1,13px);"
        'font-family:var(--jp-ui-font-family,sans-serif)">'
        f'<span class="mlws-run-card-name" style="font-weight:600">{esc(facts.name)}</span> '
        f'<span class="mlws-run-card-status" data-status="{esc(facts.status)}" '
        f'style="color:{colour};font-weight:600">{esc(facts.status)}</span> '
        f'<span class="mlws-run-card-duration">{esc(format_duration(facts.duration_s))}</span> '
        '<span style="color:var(--jp-content-font-color2,#666)">\u00b7 experiment '
        f'<span class="mlws-run-card-experiment">{esc(facts.experiment)}</span></span> '
        f'\u00b7 <a class="mlws-run-link" data-mlws-run="{esc(facts.run_id)}" href="#">'
        "Open in ML Workspace</a>"
        f"{reason}</div>"
    )


def card_bundle(facts: CardFacts) -> dict[str, str]:
    """The mime bundle to display."""
    return {"text/html": card_html(facts), "text/plain": card_text(facts)}


class RunCard:
    """A card shown once and updated in place (IPython display ids)."""

    def __init__(self, facts: CardFacts) -> None:
        self.facts = facts
        self.display_id = f"mlws-run-{facts.run_id}"
        self._shown = False

    def show(self) -> None:
        """Display the card (with its display id)."""
        from IPython.display import display

        display(card_bundle(self.facts), raw=True, display_id=self.display_id)
        self._shown = True

    def update(self, **changes: object) -> None:
        """Change the facts and redraw the card where it was shown."""
        for key, value in changes.items():
            setattr(self.facts, key, value)
        if not self._shown:
            return
        from IPython.display import update_display

        update_display(card_bundle(self.facts), raw=True, display_id=self.display_id)
