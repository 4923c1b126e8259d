"""The simulated temperature-profile sensor: the golden frames of docs/hardware.md §9 (read from
the document by `golden_doc`), the liquid's profile, the element's lag, the noise, and the
sensor following the true z of the unit that carries it."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from simulators.config_thermometer import ThermometerCfg, ThermometerSimCfg
from simulators.thermometer import (
    CarriedThermometer,
    Element,
    LiquidProfile,
    SimThermometer,
    ThermometerLine,
    reading_frame,
)

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired

PHYSICS = ThermometerSimCfg(
    t_center_c=20.5,
    gradient_c_m=0.02,
    top_excess_c=0.3,
    top_scale_m=1.5,
    gas_c=21.5,
    noise_c=0.005,
    tau_s=2.0,
)

GOLDEN = ascii_frames(9)
#: the transmitter for each golden frame of §9, in the document's order: (address, the element's
#: temperature, sensor error)
MEANINGS = [
    (1, 21.3456, False),
    (1, -1.25, False),
    (2, 20.5, False),
    (1, 21.0, True),
    (1, 21.0, False),  # identify
    (3, 21.0, False),  # an unknown command
]


def _sensor(address: int, temperature_c: float, *, silent: bool = False) -> SimThermometer:
    return SimThermometer(
        address,
        lambda: temperature_c,
        noise_c=0.0,
        rng=random.Random(1),
        silent=lambda: silent,
    )


def test_every_golden_frame_has_its_meaning() -> None:
    paired(GOLDEN, MEANINGS, "§9")


@pytest.mark.parametrize(("frame", "meaning"), cases(GOLDEN, MEANINGS))
def test_golden_frames(frame: AsciiFrame, meaning: tuple[int, float, bool]) -> None:
    address, temperature_c, error = meaning
    sensor = _sensor(address, temperature_c)
    sensor.sensor_error = error
    assert ThermometerLine([sensor]).handle(frame.line) == frame.response
    if frame.line.endswith(b"T"):
        assert reading_frame(address, temperature_c, ok=not error) == frame.response


def test_the_line_stays_silent_for_others() -> None:
    line = ThermometerLine([_sensor(1, 21.0)])
    assert line.handle(b"%02T") is None  # nobody at that address
    assert line.handle(b"@01W") is None  # a load cell's request: not this protocol
    assert line.handle(b"#01Q") is None  # a laser's
    assert ThermometerLine([_sensor(1, 21.0, silent=True)]).handle(b"%01T") is None


def test_profile_is_stable_warm_layer_under_the_surface_gas_above() -> None:
    liquid = LiquidProfile(PHYSICS, z_liquid_m=19.5)
    assert liquid.temperature_c(0.0) == pytest.approx(20.5 + 0.3 * math.exp(-13.0))
    bulk = liquid.temperature_c(-10.0) - liquid.temperature_c(-11.0)
    assert bulk == pytest.approx(0.02, abs=1e-9)  # the bulk gradient
    assert liquid.temperature_c(19.5) == pytest.approx(20.5 + 0.02 * 19.5 + 0.3)  # surface
    assert liquid.temperature_c(19.6) == 21.5  # the cover gas
    zs = [z / 2 for z in range(-35, 39)]
    temps = [liquid.temperature_c(z) for z in zs]
    assert temps == sorted(temps)  # stably stratified: warmer upwards everywhere


def test_element_lags_first_order_in_simulated_time() -> None:
    element = Element(2.0, 20.0, 0.0)
    assert element.advance(2.0, 21.0) == pytest.approx(21.0 - math.exp(-1.0))
    assert element.advance(2.0, 99.0) == pytest.approx(21.0 - math.exp(-1.0))  # no time passed
    assert element.advance(40.0, 21.0) == pytest.approx(21.0, abs=1e-8)
    assert Element(0.0, 20.0, 0.0).advance(0.001, 25.0) == 25.0  # no lag at all


def test_noise_has_the_configured_sigma() -> None:
    sensor = SimThermometer(
        1, lambda: 20.0, noise_c=0.005, rng=random.Random(3), silent=lambda: False
    )
    values = [float(sensor.answer("T")[7:16]) for _ in range(4000)]  # type: ignore[index]
    assert statistics.fmean(values) == pytest.approx(20.0, abs=4 * 0.005 / math.sqrt(4000))
    assert statistics.stdev(values) == pytest.approx(0.005, rel=4 / math.sqrt(2 * 3999))


def test_carried_sensor_reads_where_its_unit_is() -> None:
    z_m = {"now": 22.0}  # parked in the house: in the gas
    cfg = ThermometerCfg(
        endpoint="serial:///tmp/x", address=1, unit="C", sim=PHYSICS.model_copy(update={"tau_s": 0})
    )
    sensor = CarriedThermometer(cfg, 19.5, lambda t_s: z_m["now"], seed=1, t_s=0.0)
    assert sensor.tick(1.0) == 21.5
    z_m["now"] = 5.0
    truth = sensor.truth(2.0)
    assert truth["z_m"] == 5.0 and truth["unit"] == "C"
    assert truth["liquid_c"] == truth["element_c"] == pytest.approx(20.6, abs=1e-4)
    line = sensor.line(lambda: 3.0, lambda: False)
    answer = line.handle(b"%01T")
    assert answer is not None and abs(float(answer[7:16]) - 20.6) < 6 * 0.005
    sensor.set_fault("sensor_error", True)
    assert line.handle(b"%01T") == b"%01,ER,+000.0000*23\r\n"
