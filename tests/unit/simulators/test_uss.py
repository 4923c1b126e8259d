"""The simulated USS against the golden frames of docs/hardware.md §4 (simulator side; the
frames are read from the document by `golden_doc`)."""

from __future__ import annotations

import random

import pytest

from simulators.uss import UssLine, UssTarget

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired

GOLDEN = ascii_frames(4)
#: the target and its true position for each golden frame of §4 (None: no fix), document order
MEANINGS: list[tuple[int, tuple[float, float, float] | None]] = [
    (1, (2.5, 0.0, -3.25)),
    (2, (-12.3456, 4.0, 16.5)),
    (1, None),
]


def _target(
    address: int, pos: tuple[float, float, float] | None, noise_m: float = 0.0
) -> UssTarget:
    return UssTarget(
        address, lambda: pos, noise_m=noise_m, rng=random.Random(1), silent=lambda: False
    )


def test_every_golden_frame_has_its_meaning() -> None:
    paired(GOLDEN, MEANINGS, "§4")


@pytest.mark.parametrize(("frame", "meaning"), cases(GOLDEN, MEANINGS))
def test_golden_frames(
    frame: AsciiFrame, meaning: tuple[int, tuple[float, float, float] | None]
) -> None:
    address, position = meaning
    assert UssLine([_target(address, position)]).handle(frame.line) == frame.response


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
