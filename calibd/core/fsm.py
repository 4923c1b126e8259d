"""The FSM flavour every subsystem uses: transitions' AsyncMachine, non-queued (so `stop` and
`fault` cancel a running action at once), with the model told about a new state *before* that
state's long `on_enter_*` action starts."""

from __future__ import annotations

from typing import Any

from transitions.extensions.asyncio import AsyncMachine, AsyncState


class _State(AsyncState):
    async def enter(self, event_data: Any) -> None:  # type: ignore[override]  # stub says sync
        await event_data.model.on_state_entered(event_data)
        await super().enter(event_data)


class Machine(AsyncMachine):
    state_cls = _State  # type: ignore[assignment]  # stub pins the nested class


def attach(
    model: object, states: list[str], transitions: list[dict[str, Any]], initial: str
) -> Machine:
    """Make `model` the FSM of `states`/`transitions` (tables are data in each subsystem);
    the machine is also `model.machine` (restart recovery sets a state without callbacks)."""
    machine = Machine(
        model=model,
        states=states,
        transitions=transitions,
        initial=initial,
        send_event=True,
        auto_transitions=False,
        ignore_invalid_triggers=True,
    )
    model.machine = machine  # type: ignore[attr-defined]
    return machine
