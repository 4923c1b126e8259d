"""calibctl: the operator's command line over MQTT, with its own thin link (not the daemon's
edge). docs/calibctl.md is its manual.

| Module | Role |
|---|---|
| `link` | the MQTT v5 link: commands with a Response Topic, retained reads, one message stream |
| `actions` | the subcommands as data: systems, actions, flags -> payload keys, expert actions |
| `parser` | the argparse command line built from that table |
| `run` | one command seen through: daemon online, replies, progress, exit codes |
| `program` | `program run/pause/resume/abort/status` and following a run |
| `view`, `watch` | `status` (table/JSON) and the live view |
| `render` | text for the operator: table, bar, ETA, errors |
| `logexport` | `log export` from the state directory |
| `cli` | `main`: endpoint, dispatch, exit code |
"""

from calibd.ctl.cli import main
from calibd.ctl.link import CtlLink

__all__ = ["CtlLink", "main"]
