"""Clocks for the simulated Twilio: simulated time for tests, wall time against a server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated time: `advance` moves it forward instantly, so a 60 s queue wait costs nothing."""

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime.now(UTC)
        self.elapsed = 0.0

    def now(self) -> float:
        """Seconds since the clock started."""
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)

    def datetime(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)


class RealClock(SimClock):
    """Wall time (optionally sped up by `speed`): a Celery worker has real time to react."""

    def __init__(self, *, speed: float = 1.0) -> None:
        super().__init__()
        self.speed = speed

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)
        super().advance(seconds)
