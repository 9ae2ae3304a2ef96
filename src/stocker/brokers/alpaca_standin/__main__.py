"""`python -m stocker.brokers.alpaca_standin --port 8765`: the stand-in until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from stocker.brokers.alpaca_standin.book import Book, FaultPlan
from stocker.brokers.alpaca_standin.server import StandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stocker.brokers.alpaca_standin")
    parser.add_argument("--port", type=int, default=8765, help="REST port (stream: port + 1)")
    parser.add_argument("--stream-port", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", type=float, default=0.0, help="share of orders misbehaving")
    parser.add_argument("--auto-fill", action="store_true", help="fill on submission")
    args = parser.parse_args(argv)
    plan = FaultPlan.every_fault(args.seed, args.faults) if args.faults else FaultPlan(args.seed)
    stand_in = StandIn(
        Book(plan, auto_fill=args.auto_fill),
        port=args.port,
        stream_port=args.stream_port if args.stream_port is not None else args.port + 1,
    ).start()
    print(f"Alpaca stand-in: REST {stand_in.url}  stream {stand_in.stream_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        stand_in.stop()


if __name__ == "__main__":
    main()
