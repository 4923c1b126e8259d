"""The simulated USS against the golden frames of docs/hardware.md §4 (simulator side)."""

from __future__ import annotations

import random

from simulators.uss import UssLine, UssTarget


def _target(
    address: int, pos: tuple[float, float, float] | None, noise_m: float = 0.0
) -> UssTarget:
    return UssTarget(
        address, lambda: pos, noise_m=noise_m, rng=random.Random(1), silent=lambda: False
    )


def test_golden_frames() -> None:
    line = UssLine(
        [_target(1, (2.5, 0.0, -3.25)), _target(2, (-12.3456, 4.0, 16.5)), _target(3, None)]
    )
    assert line.handle(b"$01P\r") == b"$01,+002.5000,+000.0000,-003.2500,F*77\r\n"
    assert line.handle(b"$02P\r") == b"$02,-012.3456,+004.0000,+016.5000,F*76\r\n"
    no_fix = UssLine([_target(1, None)])
    assert no_fix.handle(b"$01P\r") == b"$01,+000.0000,+000.0000,+000.0000,N*7A\r\n"


def test_unknown_address_and_garbage_get_no_answer() -> None:
    line = UssLine([_target(1, (0.0, 0.0, 0.0))])
    assert line.handle(b"$05P\r") is None
    assert line.handle(b"@01W\r") is None
    assert line.handle(b"$01X\r") is None


def test_silent_target_does_not_answer() -> None:
    target = UssTarget(
        1, lambda: (1.0, 2.0, 3.0), noise_m=0.0, rng=random.Random(1), silent=lambda: True
    )
    assert UssLine([target]).handle(b"$01P\r") is None


def test_noise_is_gaussian_around_the_truth() -> None:
    target = _target(1, (1.0, 2.0, 3.0), noise_m=0.01)
    xs = []
    for _ in range(400):
        frame = target.answer()
        assert frame is not None
        xs.append(float(frame.split(b",")[1]))
    mean = sum(xs) / len(xs)
    spread = (sum((x - mean) ** 2 for x in xs) / len(xs)) ** 0.5
    assert abs(mean - 1.0) < 0.003
    assert 0.007 < spread < 0.013
