"""Build every configured subsystem from the settings: drivers on shared buses -> FSMs.

One module per system builds it; the house comes first because every deployment system opens
and closes its gate valve through it.
"""

from __future__ import annotations

from calibd.assembly import acu, house
from calibd.buses import Buses
from calibd.config import Settings
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem


def build(settings: Settings, buses: Buses, outbox: Outbox) -> dict[str, Subsystem]:
    """The subsystems by id, house first."""
    the_house = house.build(settings, buses, outbox)
    subsystems: dict[str, Subsystem] = {"house": the_house}
    if settings.acu is not None:
        subsystems["acu"] = acu.build(settings.acu, settings, buses, outbox, the_house)
    return subsystems
