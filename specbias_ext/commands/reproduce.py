"""`specbias reproduce`: run the paper's experiments and report which claims held."""
from __future__ import annotations

import os
import sys

from ..experiments import runner
from ..experiments.registry import EXPERIMENTS, resolve


def list_experiments() -> str:
    return "\n".join(f"{name:15s} {desc}" for name, (_, desc) in EXPERIMENTS.items())


def reproduce_command(args) -> int:
    """0, or 1 with --strict when a claim of the experiments run now does not hold."""
    if args.list:
        print(list_experiments())
        return 0
    names = resolve(args.experiments)
    claims = runner.reproduce(names, args.preset, args.device, args.seeds, args.out, args.quiet,
                              overwrite=args.overwrite,
                              command=getattr(args, "command_line", None))
    ran = [c for c in claims["claims"] if c["experiment"] in names]
    held = sum(bool(c["held"]) for c in ran)
    print(f"{held}/{len(ran)} claims held in this run ({claims['held']}/{claims['total']} in "
          f"the folder); report: {os.path.join(args.out, 'report.html')}, claims: "
          f"{os.path.join(args.out, 'claims.json')}")
    if args.strict and held < len(ran):
        failed = ", ".join(f"{c['experiment']}/{c['id']}" for c in ran if not c["held"])
        print(f"specbias reproduce: {len(ran) - held} claim(s) did not hold (--strict): {failed}",
              file=sys.stderr)
        return 1
    return 0
