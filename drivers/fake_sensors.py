"""In-memory fakes of the sensor Protocols: the load cell (``ForceSensor``) and the USS
receiver, each with a settable reading or one computed on every read."""

from __future__ import annotations

from collections.abc import Callable

from drivers.fake import FakeFaults
from drivers.load_cell import LoadReading, LoadStatus
from drivers.uss import UssFix


class FakeForceSensor(FakeFaults):
    """Load cell with a settable reading, or one computed by ``tension_fn`` on every read."""

    def __init__(
        self,
        name: str = "load cell",
        *,
        tension_n: float = 0.0,
        status: LoadStatus = LoadStatus.STABLE,
        tension_fn: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.lost = False
        self.fail_next = 0
        self.tension_n = tension_n
        self.status = status
        self.tension_fn = tension_fn
        self.reads = 0

    async def read(self) -> LoadReading:
        """The current tension and status."""
        self._check_faults("read")
        self.reads += 1
        tension_n = self.tension_fn() if self.tension_fn is not None else self.tension_n
        return LoadReading(tension_n=tension_n, status=self.status)


class FakePositionSensor(FakeFaults):
    """USS receiver with a settable fix, or one computed by ``position_fn`` on every read."""

    def __init__(
        self,
        name: str = "uss",
        *,
        fix: UssFix | None = None,
        position_fn: Callable[[], tuple[float, float, float] | None] | None = None,
    ) -> None:
        self.name = name
        self.lost = False
        self.fail_next = 0
        self.fix = fix or UssFix(0.0, 0.0, 0.0, ok=False)
        self.position_fn = position_fn
        self.reads = 0

    async def read(self) -> UssFix:
        """The current fix."""
        self._check_faults("read")
        self.reads += 1
        if self.position_fn is None:
            return self.fix
        pos = self.position_fn()
        if pos is None:
            return UssFix(0.0, 0.0, 0.0, ok=False)
        return UssFix(pos[0], pos[1], pos[2], ok=True)
