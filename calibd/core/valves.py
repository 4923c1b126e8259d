"""What a deployment system may ask of the house about its gate valve."""

from __future__ import annotations

from typing import Protocol


class ValveControl(Protocol):
    """Open and close a gate valve through the house, never behind its back."""

    def valve(self, name: str) -> str:
        """`open`, `closed`, `moving`, `fault`, or `unknown`."""
        ...

    async def open_valve(self, name: str) -> None:
        """Open and wait for the end switch; Trip(valve_timeout) when it does not arrive."""
        ...

    async def close_valve(self, name: str) -> None:
        """Close and wait for the end switch; Trip(valve_timeout) when it does not arrive."""
        ...
