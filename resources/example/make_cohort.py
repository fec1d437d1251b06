#!/usr/bin/env python3
"""Write the shipped example cohort (resources/example/) from the seeded generator.

    python resources/example/make_cohort.py            # rewrite resources/example/
    python resources/example/make_cohort.py --outdir /tmp/cohort --n-genes 2000 --n-samples 24

The model and what is planted are described in README.md beside this script and
in workflow/scripts/msc_response/example/cohort.py. Reruns give byte-identical files
(same numpy version).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "workflow" / "scripts"))

from msc_response.example.biology import DEFAULT_PATHWAYS  # noqa: E402
from msc_response.example.cohort import simulate_cohort, write_cohort


def parse_pathway(text: str) -> tuple[str, str, str]:
    """'collection|term|direction', e.g. 'go_bp|angiogenesis (GO:0001525)|up'."""
    parts = text.split("|")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected collection|term|direction")
    return parts[0], parts[1], parts[2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outdir", default=str(HERE))
    ap.add_argument("--n-genes", type=int, default=18000)
    ap.add_argument("--n-samples", type=int, default=41)
    ap.add_argument("--responder-fraction", type=float, default=30 / 41)
    ap.add_argument("--seed", type=int, default=20130924)
    ap.add_argument(
        "--pathway",
        action="append",
        type=parse_pathway,
        help="planted pathway as collection|term|direction (repeatable; default: "
        + "; ".join("|".join(p) for p in DEFAULT_PATHWAYS)
        + ")",
    )
    ap.add_argument(
        "--gmt",
        action="append",
        default=[],
        metavar="COLLECTION=PATH",
        help="extra GMT for --pathway collections (go_bp is the shipped go_bp.gmt.gz)",
    )
    args = ap.parse_args(argv)
    gmts = dict(g.split("=", 1) for g in args.gmt)
    cohort = simulate_cohort(
        n_genes=args.n_genes,
        n_samples=args.n_samples,
        responder_fraction=args.responder_fraction,
        seed=args.seed,
        pathways=args.pathway or DEFAULT_PATHWAYS,
        gmts=gmts,
    )
    paths = write_cohort(cohort, args.outdir)
    print(f"{cohort.counts.shape[0]} genes x {cohort.counts.shape[1]} samples")
    print(cohort.truth["category"].value_counts().to_string())
    for p in paths.values():
        print(f"wrote {p} ({p.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
