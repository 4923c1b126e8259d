"""Which v5 Response Topics the daemon honours (calibd/mqtt.py Topics.response_topic_error)."""

from __future__ import annotations

import pytest

from calibd.core.commands import Inbound
from calibd.core.dispatcher import Dispatcher
from calibd.core.outbox import Outbox
from calibd.mqtt import Topics

T = Topics("juno/calib")


@pytest.mark.parametrize(
    "topic",
    [
        "juno/calib/client/alice/7f3a",
        "juno/calib/client/bench/inbox",
        "juno/calib/acu/reply",
        "juno/calib/reply",
        "elsewhere/inbox",  # outside the root: the broker's ACL decides
    ],
)
def test_inboxes_and_reply_topics_are_honoured(topic: str) -> None:
    assert T.response_topic_error(topic) is None


@pytest.mark.parametrize(
    "topic",
    [
        "juno/calib/acu/status",
        "juno/calib/daemon/state",
        "juno/calib/events",
        "juno/calib/interlocks",
        "juno/calib/cmd",
        "juno/calib/acu/cmd",
        "juno/calib/acu/expert/cmd",
        "juno/calib/sim/acu/fault",
        "juno/calib/client",
        "juno/calib/client//x",
        "juno/calib/client/#",
        "elsewhere/+/inbox",
    ],
)
def test_the_daemons_own_topics_and_wildcards_are_refused(topic: str) -> None:
    assert T.response_topic_error(topic) is not None


def test_a_refused_route_is_a_bad_request_on_the_default_reply_topic() -> None:
    outbox = Outbox(64)
    dispatcher = Dispatcher({}, outbox)
    refusal = "response topic 'juno/calib/acu/status': use juno/calib/client/<user>/..."
    dispatcher.handle(
        Inbound(system="acu", payload=b'{"id": "x1", "action": "home"}', route_error=refusal)
    )
    items = []
    while (item := outbox.get_nowait()) is not None:
        items.append(item)
    replies = [i for i in items if i.kind == "reply"]
    assert len(replies) == 1
    assert replies[0].route is not None and replies[0].route.response_topic is None
    assert replies[0].payload["result"] == "rejected"
    assert replies[0].payload["error"] == {"code": "bad_request", "message": refusal}
