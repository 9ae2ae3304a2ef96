"""Run the pipeline's stages as bus consumers (one group per stage) until asked to stop.

One process runs a consumer thread per (stream, stage group). `run_processes` runs N such
processes side by side: every process joins the same consumer groups under its own consumer
name, so Redis hands each entry to one of them, and a member that dies leaves its entries
pending for the others to reclaim. Effects stay exactly-once across processes because each
message's inbox row and its rows commit in one transaction (the second process to try finds
the row and skips), and the stages' natural keys do the rest.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stocker.core.errors import ConfigError
from stocker.trading.stages import GROUPS

if TYPE_CHECKING:
    from stocker.bus.handlers import HandlerRegistry
    from stocker.config import BusSettings
    from stocker.trading.days import UowFactory


@dataclass(frozen=True)
class ConsumerTotals:
    """What one consumer of a worker did until it stopped (messages applied, skipped as
    already done, failed)."""

    name: str
    group: str
    stream: str
    processed: int
    duplicates: int
    failed: int


STOP_GRACE_S = 30.0
"""How long a worker process has to finish its batch after SIGTERM before it is killed."""


def run_workers(
    uow_factory: UowFactory,
    redis_client: Any,
    bus_settings: BusSettings,
    registry: HandlerRegistry,
    stop: threading.Event,
    *,
    stage: str | None = None,
    name: str = "worker",
    batch: int | None = None,
) -> list[ConsumerTotals]:
    """One consumer thread per registered (stream, stage group); returns what each did once
    ``stop`` is set and they have ended. ``batch`` is the entries read per poll."""
    from stocker.bus.consumer import BATCH_SIZE, Consumer

    if stage is not None and stage not in GROUPS:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(GROUPS)}")
    if batch is not None and batch < 1:
        raise ConfigError(f"batch must be at least 1; got {batch}")
    consumers = [
        Consumer(
            uow_factory,
            redis_client,
            bus_settings,
            registration.stream,
            registration.group,
            f"{name}-{registration.group}-{registration.stream}",
            registration.handler,
            registration.batch,
        )
        for registration in registry.registrations()
        if stage is None or registration.group == stage
    ]
    threads = [
        threading.Thread(
            target=consumer.run,
            args=(stop,),
            kwargs={"count": batch or BATCH_SIZE},
            name=consumer.name,
            daemon=True,
        )
        for consumer in consumers
    ]
    for consumer in consumers:
        consumer.ensure_group()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [
        ConsumerTotals(
            consumer.name,
            consumer.group,
            consumer.stream,
            consumer.totals.processed,
            consumer.totals.duplicates,
            consumer.totals.failed,
        )
        for consumer in consumers
    ]


def process_name(index: int) -> str:
    """A consumer-name prefix unique to this process: host, pid and index."""
    return f"{socket.gethostname()}-{os.getpid()}-{index}"


def serve_until_signalled(run: Callable[[threading.Event], object]) -> None:
    """In a worker process: call ``run(stop)`` with ``stop`` set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run(stop)


def run_processes(
    target: Callable[..., None],
    args: tuple[Any, ...],
    processes: int,
    stop: threading.Event,
) -> list[int | None]:
    """Start ``processes`` fresh interpreters running ``target(*args, index)`` and supervise
    them until ``stop`` is set or they all end; then SIGTERM each (it finishes its batch) and
    wait up to `STOP_GRACE_S` before killing it. Returns their exit codes.

    ``target`` must be importable by name (a module-level function): the processes are
    spawned, not forked, so no connection of the parent is shared with a child."""
    if processes < 1:
        raise ConfigError(f"processes must be at least 1; got {processes}")
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=target, args=(*args, index), name=f"stocker-worker-{index}")
        for index in range(processes)
    ]
    for child in children:
        child.start()
    try:
        while not stop.is_set() and any(child.is_alive() for child in children):
            stop.wait(0.2)
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(STOP_GRACE_S)
            if child.is_alive():
                child.kill()
                child.join()
    return [child.exitcode for child in children]
