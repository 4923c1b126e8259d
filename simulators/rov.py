"""The ROV (a ``SimSystem``): umbilical winch (stepper drive + drum + load cell), the vehicle
controller on Modbus, its 3-D dynamics and the ultrasonic target that tracks it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.config import serial_path
from simulators.config_rov import RovCfg
from simulators.faults import SPOOL_FAULTS
from simulators.load_cell import LoadCell, LoadCellBus, Reading
from simulators.mechanics import POWER_ON_PAID_OUT_M, SpoolMechanics
from simulators.rov_dynamics import G_M_S2, Body, Dynamics, Geometry
from simulators.rov_vehicle import VehicleController, vehicle_device
from simulators.spool import Drum
from simulators.stepper import Drive, apply_drive_fault
from simulators.stepper_device import drive_device
from simulators.system import LineHandler, Silent
from simulators.uss import UssLine, UssTarget

VEHICLE_FAULTS = frozenset({"comm_loss", "drive_alarm"})
USS_FAULTS = frozenset({"comm_loss"})
SNAG_FACTOR = 3.5
SNAG_MIN_N = 10.0
SNAG_STIFFNESS_N_M = 200.0
SLACK_FRACTION = 0.05
REST_SPEED_M_S = 1e-5
USS_CEILING_BELOW_EXIT_M = 0.2  # the hydrophones do not see into the chimney mouth

ValveOpen = Callable[[float], bool]


@dataclass
class _Frozen:
    paid_out_m: float
    nominal_n: float


def body_of(cfg: RovCfg) -> Body:
    """The vehicle from the spool's source weights (air weight; wet weight = -trim)."""
    s = cfg.sim
    return Body(
        mass_kg=cfg.spool.source_weight_air_n / G_M_S2,
        added_mass_kg=s.added_mass_kg,
        trim_n=-cfg.spool.source_weight_liquid_n,
        length_m=cfg.body_length_m,
        radius_m=s.body_radius_m,
        drag_h_n_s2_m2=s.drag_h_n_s2_m2,
        drag_v_n_s2_m2=s.drag_v_n_s2_m2,
    )


def geometry_of(cfg: RovCfg) -> Geometry:
    return Geometry(
        z_park_m=cfg.z_park_m,
        z_valve_m=cfg.z_valve_m,
        z_liquid_m=cfg.z_liquid_m,
        z_exit_m=cfg.z_exit_m,
        chimney_clearance_m=max(0.0, cfg.chimney_radius_m - cfg.sim.body_radius_m),
        sphere_radius_m=cfg.sphere_radius_m,
        tether_ea_n=cfg.spool.cable_ea_n,
        tether_air_n_m=cfg.spool.cable_weight_air_n_m,
        tether_liquid_n_m=cfg.spool.cable_weight_liquid_n_m,
    )


class Rov:
    """Winch + vehicle + USS target."""

    name = "rov"

    def __init__(
        self, cfg: RovCfg, valve_open: ValveOpen, seed: int, noise_n: float, t_s: float
    ) -> None:
        self.cfg = cfg
        spool = cfg.spool
        self.rng = random.Random(f"{seed}/rov")
        self.drum = Drum.from_cfg(spool)
        self.mechanics = SpoolMechanics(self.drum, spool.counts_per_rev, spool.cable_length_m)
        paid_m = self.rng.uniform(*POWER_ON_PAID_OUT_M)
        self.drive = Drive(self.mechanics, self.mechanics.counts_at(paid_m), t_s)
        body = body_of(cfg)
        geo = geometry_of(cfg)
        sag_m = body.weight_n * max(paid_m, 1.0) / spool.cable_ea_n
        self.dyn = Dynamics(body, geo, (0.0, 0.0, cfg.z_park_m - paid_m - sag_m))
        kp = (body.mass_kg + cfg.sim.added_mass_kg) / cfg.sim.velocity_tau_s
        self.controller = VehicleController(
            thrust_max_n=cfg.sim.thrust_max_n,
            speed_max_m_s=cfg.sim.speed_max_m_s,
            kp_n_s_m=kp,
            ki_n_m=kp / (2 * cfg.sim.velocity_tau_s),
            t_s=t_s,
        )
        self._valve_open = valve_open
        self._noise_n = noise_n
        self._t_s = t_s
        self._paid_m = paid_m
        self._snag: _Frozen | None = None
        self._slack: _Frozen | None = None
        self._last_valve = False

    # -- physics -----------------------------------------------------------------------------
    def paid_out_m(self, t_s: float) -> float:
        return self.mechanics.paid_out_m(self.drive.drum_counts(t_s))

    def _quiet(self, t_s: float) -> bool:
        """Nothing drives the vehicle and it is at rest: no need to integrate."""
        c = self.controller
        return (
            not c.enabled
            and not self.drive.moving(t_s)
            and self.dyn.last_dv_m_s < REST_SPEED_M_S / 10
            and max(abs(v) for v in self.dyn.v) < REST_SPEED_M_S
        )

    def advance(self, t_s: float) -> None:
        """Integrate the vehicle up to simulated time ``t_s``."""
        if t_s <= self._t_s:
            return
        self.drive.advance(t_s)
        valve_open = self._valve_open(t_s)
        dyn, ctl = self.dyn, self.controller
        t = self._t_s
        if self._snag is not None:
            dyn.rest()
            self._t_s, self._paid_m = t_s, self.paid_out_m(t_s)
            return
        force_step = ctl.changed or valve_open != self._last_valve
        ctl.changed = False
        self._last_valve = valve_open
        while t < t_s:
            if not force_step and self._quiet(t):
                break
            force_step = False
            dt = min(dyn.dt_s(self._paid_m), t_s - t)
            t += dt
            paid = self.paid_out_m(t)
            rate = (paid - self._paid_m) / dt
            ctl.check_watchdog(t)
            thrust = ctl.update(dyn.velocity_m_s, dt)
            dyn.step(dt, thrust, paid, rate, valve_open)
            self._paid_m = paid
        ctl.check_watchdog(t_s)
        self._t_s = t_s
        self._paid_m = self.paid_out_m(t_s)

    def tension_n(self, t_s: float) -> float:
        """True tension at the load cell, faults included."""
        self.advance(t_s)
        paid = self._paid_m
        if self._snag is not None:
            snag = self._snag
            jump = max(SNAG_FACTOR * snag.nominal_n, snag.nominal_n + SNAG_MIN_N)
            return max(jump + SNAG_STIFFNESS_N_M * (snag.paid_out_m - paid), 0.0)
        if self._slack is not None:
            return SLACK_FRACTION * self._slack.nominal_n
        return self.dyn.top_tension_n(paid)

    def reading(self, t_s: float) -> Reading:
        force_n = self.tension_n(t_s) + self.rng.gauss(0.0, self._noise_n)
        return Reading(force_n, unstable=self.drive.moving(t_s))

    def uss_position(self, t_s: float) -> tuple[float, float, float] | None:
        """What the ultrasonic system can see (nothing in the chimney or in air)."""
        self.advance(t_s)
        p = self.dyn.position_m
        if p[2] > self.cfg.z_exit_m - USS_CEILING_BELOW_EXIT_M:
            return None
        return p

    def vehicle_registers(self, t_s: float) -> list[int]:
        self.advance(t_s)
        dyn = self.dyn
        depth = max(0.0, self.cfg.z_liquid_m - dyn.p[2])
        return self.controller.input_registers(depth, dyn.submerged() > 0.99, dyn.velocity_m_s)

    def vehicle_write(self, address: int, values: list[int], t_s: float) -> None:
        self.advance(t_s)
        self.controller.write_holding(address, values, t_s)

    # -- SimSystem ---------------------------------------------------------------------------
    def drives(self) -> dict[str, Drive]:
        return {"winch": self.drive}

    def fault_axes(self) -> dict[str, frozenset[str]]:
        return {"winch": SPOOL_FAULTS, "vehicle": VEHICLE_FAULTS, "uss": USS_FAULTS}

    def modbus_devices(self, clock: Clock, silent: Silent) -> list[tuple[str, SimDevice]]:
        cfg = self.cfg
        winch = drive_device(cfg.winch.device_id, self.drive, clock, silent("winch"))
        vehicle = vehicle_device(
            cfg.vehicle.device_id,
            self.vehicle_registers,
            self.vehicle_write,
            lambda: list(self.controller.holding),
            clock,
            silent("vehicle"),
        )
        return [(cfg.winch.endpoint, winch), (cfg.vehicle.endpoint, vehicle)]

    def serial_lines(self, clock: Clock, silent: Silent) -> dict[str, LineHandler]:
        cfg = self.cfg
        cell = LoadCell(
            cfg.load_cell.address,
            cfg.spool.load_cell_range_n,
            lambda: self.reading(clock.now_s()),
            silent("winch"),
        )
        target = UssTarget(
            cfg.uss.address,
            lambda: self.uss_position(clock.now_s()),
            noise_m=cfg.sim.uss_noise_m,
            rng=random.Random(f"{self.rng.random()}/uss"),
            silent=silent("uss"),
        )
        return {
            serial_path(cfg.load_cell.endpoint): LoadCellBus([cell]).handle,
            serial_path(cfg.uss.endpoint): UssLine([target]).handle,
        }

    def tick(self, t_s: float) -> None:
        self.advance(t_s)

    def set_fault(self, axis: str, fault: str, active: bool, t_s: float) -> None:
        self.advance(t_s)
        if axis == "vehicle":
            if fault == "drive_alarm":
                self.controller.set_fault(active)
                self.controller.changed = True
        elif axis == "winch":
            if fault in ("snag", "slack"):
                frozen = None
                if active:
                    frozen = _Frozen(self._paid_m, self.dyn.top_tension_n(self._paid_m))
                if fault == "snag":
                    self._snag = frozen
                else:
                    self._slack = frozen
            else:
                apply_drive_fault(self.drive, fault, active, t_s)
        self.controller.changed = True

    def truth(self, t_s: float) -> dict[str, object]:
        self.advance(t_s)
        dyn = self.dyn
        x, y, z = dyn.position_m
        vx, vy, vz = dyn.velocity_m_s
        return {
            "position": {"x_m": round(x, 6), "y_m": round(y, 6), "z_m": round(z, 6)},
            "velocity_m_s": {"x": round(vx, 6), "y": round(vy, 6), "z": round(vz, 6)},
            "tension_n": round(self.tension_n(t_s), 4),
            "tension_end_n": round(dyn.tension_end_n, 4),
            "paid_out_m": round(self._paid_m, 6),
            "parked": self.mechanics.home_active(self.drive.drum_counts(t_s)),
            "thrusters_on": self.controller.enabled,
            "thrust_n": [round(f, 3) for f in self.controller.thrust_n],
            "contact": dyn.contact,
        }
