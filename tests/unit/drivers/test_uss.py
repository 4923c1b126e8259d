"""The USS receiver against the golden frames of docs/hardware.md §4 (driver side)."""

from __future__ import annotations

import pytest

from drivers.errors import CommError, ProtocolError
from drivers.uss import UssFix, UssReceiver, decode_fix, encode_request

GOLDEN = [
    (1, b"$01P\r", b"$01,+002.5000,+000.0000,-003.2500,F*77\r\n", UssFix(2.5, 0.0, -3.25, True)),
    (
        2,
        b"$02P\r",
        b"$02,-012.3456,+004.0000,+016.5000,F*76\r\n",
        UssFix(-12.3456, 4.0, 16.5, True),
    ),
    (1, b"$01P\r", b"$01,+000.0000,+000.0000,+000.0000,N*7A\r\n", UssFix(0.0, 0.0, 0.0, False)),
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


@pytest.mark.parametrize(("address", "request_", "answer", "fix"), GOLDEN)
async def test_golden_frames(address: int, request_: bytes, answer: bytes, fix: UssFix) -> None:
    line = _Line(answer)
    got = await UssReceiver(line, address, name="uss").read()
    assert line.sent == [request_]
    assert got == fix


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
