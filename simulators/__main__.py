"""``calibsim --config FILE``: serve the simulated hardware until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from simulators.config import ConfigError, SimConfig, load_config
from simulators.rack import Rack

log = logging.getLogger("calibsim")


async def serve(cfg: SimConfig) -> None:
    """Run the rack; print the ready line; stop on SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Rack(cfg):
        print("calibsim: ready", flush=True)
        await stop.wait()
    log.info("calibsim: stopped")


def main() -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="calibsim", description=__doc__)
    parser.add_argument("--config", required=True, help="calibd TOML config (e.g. config/sim.toml)")
    parser.add_argument("--log-level", default="INFO", help="stderr log level (default INFO)")
    args = parser.parse_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pymodbus").setLevel(logging.WARNING)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"calibsim: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        asyncio.run(serve(cfg))
    except (ConfigError, OSError) as exc:
        print(f"calibsim: cannot start: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
