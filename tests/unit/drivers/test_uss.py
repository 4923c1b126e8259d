"""The USS receiver against the golden frames of docs/hardware.md §4 (driver side; the frames
are read from the document by `golden_doc`)."""

from __future__ import annotations

import pytest

from drivers.errors import CommError, ProtocolError
from drivers.uss import UssFix, UssReceiver, checksum, decode_fix, encode_request

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired

GOLDEN = ascii_frames(4)
#: what each golden frame of §4 means, in the document's order: (address, fix)
MEANINGS = [
    (1, UssFix(2.5, 0.0, -3.25, True)),
    (2, UssFix(-12.3456, 4.0, 16.5, True)),
    (1, UssFix(0.0, 0.0, 0.0, False)),
]


class _Line:
    name = "fake line"

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.sent: list[bytes] = []

    async def transact(self, request: bytes, *, terminator: bytes = b"\n") -> bytes:
        self.sent.append(request)
        if self.answer is None:
            raise CommError("no answer", device=self.name)
        return self.answer


def test_every_golden_frame_has_its_meaning() -> None:
    paired(GOLDEN, MEANINGS, "§4")


@pytest.mark.parametrize(("frame", "meaning"), cases(GOLDEN, MEANINGS))
async def test_golden_frames(frame: AsciiFrame, meaning: tuple[int, UssFix]) -> None:
    address, fix = meaning
    line = _Line(frame.response)
    got = await UssReceiver(line, address, name="uss").read()
    assert line.sent == [frame.request]
    assert got == fix
    payload, check = frame.response[1:-2].split(b"*")
    assert checksum(payload) == int(check, 16)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"$01,+002.5000,+000.0000,-003.2500,F*78\r\n", "checksum"),
        (b"$02,+002.5000,+000.0000,-003.2500,F*74\r\n", "address"),
        (b"$01,2.5,0,0,F*00\r\n", "malformed"),
    ],
)
def test_bad_answers_raise_protocol_error(answer: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode_fix(answer, 1, device="uss")


async def test_comm_error_names_the_receiver() -> None:
    with pytest.raises(CommError) as info:
        await UssReceiver(_Line(None), 1, name="cls1-uss").read()
    assert info.value.device == "cls1-uss"


def test_address_range() -> None:
    with pytest.raises(ValueError, match=r"1\.\.32"):
        encode_request(33)
