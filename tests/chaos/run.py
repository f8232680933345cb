"""One chaos run: start the cluster, run the workload, play a schedule, verify, report."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tests.chaos.conftest import ChaosCluster
from tests.chaos.faults import Chaos
from tests.chaos.ledger import Ledger
from tests.chaos.verify import Report, Verifier
from tests.chaos.workload import Shape, Workload


def run(
    root: str,
    shape: Shape,
    schedule: Callable[[Chaos], None],
    *,
    seed: int,
    warmup: float = 8.0,
    hold: tuple[float, float] = (4.0, 6.0),
    bitrot_files: int = 6,
    gateways: int = 2,
) -> Report:
    cluster = ChaosCluster(root, gateways)
    try:
        cluster.start()
        ledger = Ledger()
        ch = Chaos(cluster, ledger, random.Random(seed), hold=hold, bitrot_files=bitrot_files)
        workload = Workload(cluster.urls, ledger, shape, seed)
        workload.setup()
        report = Report(clients=shape.clients, gateways=gateways)
        started = time.monotonic()
        workload.start()
        try:
            time.sleep(warmup)  # something written before the first fault
            cluster.log("faults start")
            ledger.t0 = cluster.events[-1][0]
            schedule(ch)
            cluster.log("faults end")
        finally:
            workload.stop()
        faults_ended = time.monotonic()
        report.seconds = faults_ended - started
        return Verifier(ch, workload, report).run(faults_ended)
    finally:
        cluster.close()
