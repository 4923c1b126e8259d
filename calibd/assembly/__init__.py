"""Build every configured subsystem from the settings: drivers on shared buses -> FSMs.

One module per system builds it; the house comes first because every deployment system opens
and closes its gate valve through it.
"""

from __future__ import annotations

from calibd.assembly import acu, cls, gt, house, rov
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
    for cls_name, cls_cfg in (("cls1", settings.cls1), ("cls2", settings.cls2)):
        if cls_cfg is not None:
            subsystems[cls_name] = cls.build(cls_name, cls_cfg, settings, buses, outbox, the_house)
    if settings.gt is not None:
        subsystems["gt"] = gt.build(settings.gt, settings, buses, outbox, the_house)
    if settings.rov is not None:
        subsystems["rov"] = rov.build(settings.rov, settings, buses, outbox, the_house)
    return subsystems
