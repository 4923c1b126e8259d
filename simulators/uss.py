"""Ultrasonic positioning system (docs/hardware.md §4): true target position + noise."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

Position = tuple[float, float, float]


def checksum(text: str) -> str:
    """XOR of every byte strictly between ``$`` and ``*``, two upper-case hex digits."""
    value = 0
    for byte in text.encode("ascii"):
        value ^= byte
    return f"{value:02X}"


def fix_frame(address: int, position_m: Position | None) -> bytes:
    """``$NN,x,y,z,q*CS\\r\\n`` (no fix: zeros and ``N``)."""
    x, y, z = position_m if position_m is not None else (0.0, 0.0, 0.0)
    quality = "F" if position_m is not None else "N"
    inner = f"{address:02d},{x:+09.4f},{y:+09.4f},{z:+09.4f},{quality}"
    return f"${inner}*{checksum(inner)}\r\n".encode("ascii")


class UssTarget:
    """One tracked target: answers with its position (plus Gaussian noise per axis)."""

    def __init__(
        self,
        address: int,
        position_m: Callable[[], Position | None],
        *,
        noise_m: float,
        rng: random.Random,
        silent: Callable[[], bool],
    ) -> None:
        self.address = address
        self.position_m = position_m
        self.noise_m = noise_m
        self.rng = rng
        self.silent = silent

    def answer(self) -> bytes | None:
        """The fix frame (None: silent)."""
        if self.silent():
            return None
        pos = self.position_m()
        if pos is not None and self.noise_m > 0:
            pos = (
                pos[0] + self.rng.gauss(0.0, self.noise_m),
                pos[1] + self.rng.gauss(0.0, self.noise_m),
                pos[2] + self.rng.gauss(0.0, self.noise_m),
            )
        return fix_frame(self.address, pos)


class UssLine:
    """The USS serial line: routes ``$NNP`` requests by address."""

    def __init__(self, targets: Iterable[UssTarget]) -> None:
        self.targets = {t.address: t for t in targets}

    def handle(self, line: bytes) -> bytes | None:
        """Answer one CR-terminated request (None: nothing on the line)."""
        text = line.strip().decode("ascii", errors="replace")
        if len(text) != 4 or text[0] != "$" or not text[1:3].isdigit() or text[3] != "P":
            return None
        target = self.targets.get(int(text[1:3]))
        return None if target is None else target.answer()
