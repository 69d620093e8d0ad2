"""Claims a lesson makes about its figures, checked against the numbers behind them.

A lesson that says "the cost falls by orders of magnitude" or "detail fades with depth" computes
the numbers behind its figure and hands them to :func:`claim`, which prints one line the student
can read (``✓`` or ``✗``, the statement and the measured numbers). At the lesson's defaults a claim
that does not hold raises :class:`ClaimFailed`, so rendering the reference pages fails loudly; in
fast mode (``NST_TF_FAST=1``, small pictures and few steps, where most claims cannot hold) it is
only reported. ``NST_TF_CLAIMS=assert`` or ``report`` overrides the choice.

Every claim a lesson made is kept in :data:`made` (``(statement, holds, detail)``), so a renderer or
a test can list them after a run.
"""

from __future__ import annotations

import os

from ..settings import fast_mode

__all__ = ["ClaimFailed", "claim", "made", "asserting"]

#: Every claim made in this process, in order: ``(statement, holds, detail)``.
made: list[tuple[str, bool, str]] = []


class ClaimFailed(AssertionError):
    """A lesson's text says something about a figure that its own numbers do not bear out."""


def asserting() -> bool:
    """True when a claim that does not hold must raise (the lesson defaults), False when it is only reported."""
    mode = os.environ.get("NST_TF_CLAIMS", "").strip().lower()
    if mode in ("assert", "report"):
        return mode == "assert"
    if mode:
        raise ValueError(f"NST_TF_CLAIMS must be 'assert' or 'report', got {mode!r}")
    return not fast_mode()


def claim(statement: str, holds: bool, detail: str = "") -> bool:
    """Report whether ``statement`` holds, with the numbers in ``detail``; raise at the defaults if not.

    Returns ``holds`` so a lesson can branch on it. ``holds`` must be a real truth value computed
    from the figure's numbers (a NumPy bool is fine).
    """
    holds = bool(holds)
    must_hold = asserting()  # read first, so a misspelt NST_TF_CLAIMS is refused even when the claim holds
    made.append((statement, holds, detail))
    mark = "✓" if holds else "✗"
    line = f"{mark} {statement}" + (f" ({detail})" if detail else "")
    if not holds and must_hold:
        raise ClaimFailed(f"the lesson's text does not hold at these settings: {statement} ({detail})")
    if not holds:
        line += "  [not expected to hold in fast mode]"
    print(line)
    return holds
