"""Train a plain nn.Sequential on a bundled image and watch its linear regions with RegionMonitor.

    python examples/train_with_monitor.py --size 64 --steps 300 --every 25 --out runs/camera

The training loop is ordinary PyTorch; the monitor is one call per step. It writes
records.jsonl, arrays/*.npz and monitor.png to --out (and TensorBoard scalars when
torch.utils.tensorboard is installed); a folder holding earlier records is refused unless
--resume (continue them) or --overwrite (replace them).
"""
from __future__ import annotations

import argparse

import torch
from torch import nn

import specbias_ext as se
from specbias_ext.nets.encodings import make_encoding
from specbias_ext.data.grids import grid_coords
from specbias_ext.data.signals import load_image
from specbias_ext.train.records import count_text


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default="camera", help="bundled image name or a path")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--encoding", default="pe:4", help="raw, pe:<L> or rff:<m>:<sigma>")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=25, help="steps between records")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", default="runs/train_with_monitor")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--resume", action="store_true", help="continue the records in --out")
    p.add_argument("--overwrite", action="store_true", help="replace the records in --out")
    args = p.parse_args(argv)

    image = load_image(args.image, size=args.size, grey=True)          # [H, W, 1] in [0, 1]
    coords = grid_coords(image.shape[:2])                               # [H*W, 2] row-major
    target = image.reshape(-1, 1)
    enc = make_encoding(args.encoding, 2)

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    dims = [enc.out_dim] + [args.width] * args.depth
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(dims[-1], 1)).to(args.device)

    monitor = se.RegionMonitor(coords, target=target, encoding=enc, every=args.every,
                               measurements=("regions", "hamming", "confusion"), out=args.out,
                               resume=args.resume, overwrite=args.overwrite)
    x, y = enc(coords).to(args.device), target.to(args.device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    for step in range(args.steps + 1):
        rec = monitor(model, step)                   # records when due; None otherwise
        if rec is not None:                          # a saturated count prints as ">= N"
            print(f"step {step:5d}  loss {rec['loss']:.4g}  regions "
                  f"{rec['regions_grid']['display']:>20}  "
                  f"local Hamming {rec['hamming_local']['mean']:.2f}")
        if step == args.steps:
            break
        opt.zero_grad()
        loss = (model(x) - y).square().mean()
        loss.backward()
        opt.step()
    monitor.plot()                                   # out/monitor.png
    monitor.close()
    steps, regions = monitor.series("regions")
    print(f"regions {count_text(monitor.history[0])} -> "
          f"{count_text(monitor.history[-1], hint=True)}")
    print(f"wrote {args.out}/records.jsonl, monitor.png (RegionMonitor.load({args.out!r}) "
          "reads them back without the model)")
    return {"steps": steps, "regions": regions}


if __name__ == "__main__":
    main()
