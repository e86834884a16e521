"""Sweep throughput: bodies per second at 1 mm and 2 mm, serial vs a 2-worker local Dask cluster.

Usage::

    python benchmarks/sweep.py [--n 8]

Each configuration evaluates the same sampled people (PSO-Spine at T7, lying back) into a fresh result folder,
side by side in one run (cluster start-up excluded); the ratio column is the speed-up of 2 workers over
serial at the same spacing. Serial runs use multi-threaded FFTs; Dask workers use one thread each.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from spinerelease.sweep import make_items, run_sweep, sample_population


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    people = sample_population(args.n, seed=11)
    from dask.distributed import Client, LocalCluster

    # the cluster is started (and its workers import spinerelease) outside the timed region
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with Client(cluster) as client:
        client.run(lambda: __import__("spinerelease.workflow"))
    print(f"{'spacing':>8} {'executor':>10} {'bodies/s':>9} {'speed-up':>9}")
    for spacing in (2.0, 1.0):
        items = make_items(people, ["T7"], ["lie_back"], spacing_mm=spacing)
        rates = {}
        for name, kw in (("serial", {"scheduler": "serial"}), ("2 workers", {"scheduler": cluster.scheduler_address})):
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                run_sweep(items, d, **kw)
                rates[name] = len(items) / (time.perf_counter() - t)
            print(f"{spacing:>8g} {name:>10} {rates[name]:>9.2f} {rates[name] / rates['serial']:>9.2f}")
    cluster.close()


if __name__ == "__main__":
    main()
