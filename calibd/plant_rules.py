"""The cross-system interlock table, evaluated by the interlock board on every poll of fresh data.

Each row is an `Interlock` (docs/interlocks.md) with two pure functions of a `PlantView` (the
presences of every deployment system, the house readings, the e-stop latch, the run permit):
`evaluate` returns what is active now (entries for the board, and the systems a trip stops) and
`refuse` says why a command must be rejected `interlock` before anything moves. The view is
`calibd/plant_view.py`, the functions are `calibd/plant_checks.py`; this module is the table.
"""

from __future__ import annotations

from calibd.core.interlock import Interlock, Severity
from calibd.plant_checks import (
    atmosphere_eval,
    atmosphere_refuse,
    chimney_eval,
    chimney_refuse,
    estop_eval,
    estop_refuse,
    input_eval,
    input_refuse,
    keepout_eval,
    keepout_refuse,
    none_eval,
    none_refuse,
    permit_eval,
    permit_refuse,
    sources_eval,
    sources_refuse,
)
from calibd.plant_view import Evaluate, Refuse

T, I = Severity.TRIP, Severity.INHIBIT  # noqa: E741 - table shorthand

PLANT_INTERLOCKS: tuple[tuple[Interlock, Evaluate, Refuse], ...] = (
    (
        Interlock(
            "estop",
            T,
            "global command `estop` on {root}/cmd (any operator)",
            "every deployment system halts and latches FAULT `estop`; every command but "
            "status/stop is refused",
            "the global `reset` releases the latch and resets every system",
        ),
        estop_eval,
        estop_refuse,
    ),
    (
        Interlock(
            "estop_input",
            T,
            "the house e-stop circuit (IO module DI16, fail-safe) is open",
            "every deployment system halts and latches FAULT `estop_input`; every command but "
            "status/stop is refused until the global reset, even once the circuit is closed",
            "close the circuit, then the global `reset`",
        ),
        input_eval,
        input_refuse,
    ),
    (
        Interlock(
            "chimney_exclusive",
            I,
            "acu, cls1, cls2 and rov share the chimney: at most interlocks.max_in_chimney (1) "
            "of them out of their parked position",
            "a command that would take another of them in is refused; if ever more are out, "
            "the moving ones trip",
            "ends when the system in the detector is parked again",
        ),
        chimney_eval,
        chimney_refuse,
    ),
    (
        Interlock(
            "source_limit",
            I,
            "at most interlocks.max_sources_in_detector (1) systems with their source out, "
            "GT included",
            "a command that would take another source in is refused; if ever more are out, "
            "the moving ones trip",
            "ends when a source is parked again",
        ),
        sources_eval,
        sources_refuse,
    ),
    (
        Interlock(
            "o2_high",
            I,
            "house O2 above interlocks.o2_max_ppm (10 ppm), or no reading",
            "no gate valve opens: deployments through a valve are refused (a valve open "
            "asked for meanwhile trips its system)",
            "ends when the O2 reading is back at or below the limit",
        ),
        atmosphere_eval("o2_high"),
        atmosphere_refuse("o2_high"),
    ),
    (
        Interlock(
            "radon_high",
            I,
            "house radon above interlocks.radon_max_mbq_m3 (15 mBq/m3)",
            "as o2_high",
            "ends when the radon reading is back at or below the limit",
        ),
        atmosphere_eval("radon_high"),
        atmosphere_refuse("radon_high"),
    ),
    (
        Interlock(
            "valve_path",
            I,
            "a gate valve may close only when every system that passes it is parked",
            "the house refuses the close; the system asking trips `valve_path`",
            "park the system first (retract), then the valve closes",
        ),
        none_eval,
        none_refuse,
    ),
    (
        Interlock(
            "run_permit",
            I,
            "a system in interlocks.run_permit.required_for while run control's permit topic "
            "does not say {permit: true}",
            "deploy and move of that system are refused; nothing already out is stopped",
            "ends when run control grants the permit",
        ),
        permit_eval,
        permit_refuse,
    ),
    (
        Interlock(
            "rov_keepout",
            I,
            "the ROV within interlocks.rov_keepout_m of a deployed cable (ACU axis, CLS "
            "cables), or a target/path that would bring it (or a cable) there",
            "such commands are refused; if it happens anyway, the moving system(s) trip",
            "a trip: move the ROV away after `reset`; an inhibit ends when the zone is clear",
        ),
        keepout_eval,
        keepout_refuse,
    ),
)
