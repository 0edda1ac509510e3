"""What the e2e scenarios measure, printed at the end of `make e2e`.

A module of its own: pytest imports conftest.py under its own name, and scenarios that
import from tests.e2e.conftest get a second copy of it; both copies share this one.
"""

from __future__ import annotations

# (scenario, pulumi command, seconds) of every program command the Stack helper ran.
TIMINGS: list[tuple[str, str, float]] = []
# One line per figure a scenario reports (rollouts, times at scale).
FIGURES: list[str] = []
