"""The golden frames of docs/hardware.md, parsed from the document itself.

The driver tests (tests/unit/drivers) and the simulator tests (tests/unit/simulators) take
their frames from here, so the document, the drivers and the simulators cannot disagree
without a test failing: edit a frame in the document and the side that does not put exactly
that frame on the wire fails; add or remove one and the tables of meanings next to the tests
(one per frame, in the document's order) no longer have the document's length.

Format (docs/hardware.md, under each `### Golden frames` heading):
- ASCII sections: code blocks of lines ``request  '<python bytes escapes>'  response '<...>'
  <what it means>``;
- Modbus sections: a caption line, then a code block with one ``request  <hex>`` line and one
  ``response <hex>`` line (an FC05/FC06 answer echoes the request: it is written out too).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HARDWARE_MD = Path(__file__).resolve().parents[2] / "docs" / "hardware.md"
#: the sections with golden frames and their kind
GOLDEN_SECTIONS = {
    1: "modbus",
    2: "ascii",
    3: "modbus",
    4: "ascii",
    6: "modbus",
    8: "ascii",
    9: "ascii",
}

_SECTION = re.compile(r"^## (\d+)\. ", flags=re.MULTILINE)
_ASCII_LINE = re.compile(r"request\s+'([^']*)'\s+response\s+'([^']*)'\s+(\S.*)")
_MODBUS_LINE = re.compile(r"(request|response) +((?:[0-9A-F]{2} )*[0-9A-F]{2})")
_BLOCK = re.compile(r"(?:^|\n)([^\n]*)\n+```\n(.*?)\n```", flags=re.DOTALL)


@dataclass(frozen=True)
class AsciiFrame:
    """One request and its answer on an ASCII serial line, and what the document says of it."""

    section: int
    request: bytes
    response: bytes
    note: str

    @property
    def line(self) -> bytes:
        """The request as a simulator's line handler gets it (the pty link strips the CR)."""
        return self.request.removesuffix(b"\r")


@dataclass(frozen=True)
class ModbusFrame:
    """One Modbus TCP transaction (request and response ADUs) and its caption."""

    section: int
    caption: str
    request: bytes
    response: bytes

    @property
    def transaction(self) -> int:
        """The MBAP transaction id."""
        return int.from_bytes(self.request[:2], "big")

    @property
    def device_id(self) -> int:
        """The MBAP unit id."""
        return self.request[6]

    @property
    def function_code(self) -> int:
        """The request's function code."""
        return self.request[7]

    def response_registers(self) -> list[int]:
        """The words of an FC03/FC04 answer."""
        assert self.function_code in (3, 4), self
        return _words(self.response[9:])

    def written_registers(self) -> list[int]:
        """The words an FC16 request writes."""
        assert self.function_code == 16, self
        return _words(self.request[13:])


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@functools.cache
def sections() -> dict[int, str]:
    """The text under each `### Golden frames` heading, by section number."""
    text = HARDWARE_MD.read_text(encoding="utf-8")
    starts = list(_SECTION.finditer(text))
    out: dict[int, str] = {}
    for i, start in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[start.end() : end]
        if "\n### Golden frames" in body:
            golden = body.split("\n### Golden frames", 1)[1]
            out[int(start.group(1))] = golden.split("\n---", 1)[0]
    return out


def _section(number: int, kind: str) -> str:
    assert GOLDEN_SECTIONS.get(number) == kind, f"§{number} is not a {kind} section"
    text = sections().get(number)
    assert text is not None, f"docs/hardware.md §{number} has no '### Golden frames'"
    return text


@functools.cache
def ascii_frames(number: int) -> tuple[AsciiFrame, ...]:
    """Every golden frame of an ASCII section, in the document's order."""
    frames = []
    for _caption, block in _BLOCK.findall(_section(number, "ascii")):
        for line in block.splitlines():
            match = _ASCII_LINE.fullmatch(line.strip())
            assert match is not None, f"§{number}: not a golden frame line: {line!r}"
            request, response, note = match.groups()
            frames.append(AsciiFrame(number, _escaped(request), _escaped(response), note))
    assert frames, f"§{number}: no golden frames"
    return tuple(frames)


@functools.cache
def modbus_frames(number: int) -> tuple[ModbusFrame, ...]:
    """Every golden transaction of a Modbus section, in the document's order."""
    frames = []
    for caption, block in _BLOCK.findall(_section(number, "modbus")):
        adus: dict[str, bytes] = {}
        for line in block.splitlines():
            match = _MODBUS_LINE.fullmatch(line.strip())
            assert match is not None, f"§{number}: not a golden ADU line: {line!r}"
            kind, hex_text = match.groups()
            assert kind not in adus, f"§{number}: two {kind} lines in one block: {block!r}"
            adus[kind] = bytes.fromhex(hex_text)
        assert set(adus) == {"request", "response"}, f"§{number}: {caption!r} needs both ADUs"
        caption = caption.replace("**", "").strip().rstrip(":")
        frames.append(ModbusFrame(number, caption, adus["request"], adus["response"]))
    assert frames, f"§{number}: no golden frames"
    return tuple(frames)


def transaction(number: int, tid: int) -> ModbusFrame:
    """The golden transaction ``tid`` of a Modbus section."""
    found = [f for f in modbus_frames(number) if f.transaction == tid]
    assert len(found) == 1, f"§{number}: {len(found)} golden transactions with id {tid}"
    return found[0]


def paired(frames: Sequence[object], meanings: Sequence[object], what: str) -> None:
    """Assert that a test's table of meanings has one entry per documented frame."""
    assert len(meanings) == len(frames), (
        f"docs/hardware.md {what} lists {len(frames)} golden frames; this test knows "
        f"{len(meanings)}: give every documented frame its meaning here (same order)"
    )


def cases(frames: Sequence[AsciiFrame | ModbusFrame], meanings: Sequence[object]) -> list[Any]:
    """``pytest.param(frame, meaning)`` per documented frame (as far as both lists go; the
    `paired` check fails on a length mismatch), named after the document's note or caption."""
    return [
        pytest.param(f, m, id=f.note if isinstance(f, AsciiFrame) else f.caption)
        for f, m in zip(frames, meanings, strict=False)
    ]


def _escaped(text: str) -> bytes:
    value = ast.literal_eval(f"b'{text}'")
    assert isinstance(value, bytes)
    return value
