"""`specbias reproduce`: run the paper's experiments and report which claims held."""
from __future__ import annotations


def reproduce_command(args) -> None:
    from ..experiments.runner import reproduce

    claims = reproduce(args.experiments, args.preset, args.device, args.seeds, args.out,
                       args.quiet)
    print(f"{claims['held']}/{claims['total']} claims held; report: "
          f"{args.out}/report.html, claims: {args.out}/claims.json")
