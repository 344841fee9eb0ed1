"""The batched trainer equals M separately trained models (init, padding, Adam, minibatches)."""
import torch
from torch import nn

from specbias_ext.experiments.batched_training import MLPEnsemble, train_ensemble
from specbias_ext.nets.models import linear_init


def separate_model(in_dim, depth, width, out_dim, seed):
    gen = torch.Generator().manual_seed(seed)
    dims = [in_dim] + [width] * depth + [out_dim]
    layers = []
    for l in range(len(dims) - 1):
        lin = nn.Linear(dims[l], dims[l + 1], dtype=torch.float64)
        w, b = linear_init(dims[l + 1], dims[l], gen, torch.float64)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def train_separately(model, x, y, epochs, lr, batch_size=None, seed=0):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 7919)
    n = x.shape[0]
    for _ in range(epochs):
        if batch_size is None:
            batches = [torch.arange(n)]
        else:
            perm = torch.randperm(n, generator=gen)
            batches = [perm[s:s + batch_size] for s in range(0, n, batch_size)]
        for idx in batches:
            opt.zero_grad()
            ((model(x[idx]) - y[idx]) ** 2).mean().backward()
            opt.step()
    return model


def _check(batch_size):
    torch.manual_seed(0)
    in_dims, seeds = [1, 4, 3], [5, 6, 7]
    n, depth, width = 37, 2, 9
    xs = [torch.rand(n, d, dtype=torch.float64) for d in in_dims]
    y = torch.randn(n, 2, dtype=torch.float64)
    x = torch.zeros(3, n, max(in_dims), dtype=torch.float64)
    for m, xm in enumerate(xs):
        x[m, :, :xm.shape[1]] = xm
    ens = MLPEnsemble(in_dims, depth, width, 2, seeds, dtype=torch.float64)
    run = train_ensemble(ens, x, y, epochs=6, lr=1e-2, record_epochs=[0, 3, 6],
                         batch_size=batch_size, seeds=seeds)
    assert run.record_epochs == [0, 3, 6] and len(run.snapshots) == 3
    for m in range(3):
        model = separate_model(in_dims[m], depth, width, 2, seeds[m])
        w0, b0 = run.params(m, 0)
        assert torch.equal(w0[0], model[0].weight.detach())
        train_separately(model, xs[m], y, 6, 1e-2, batch_size, seeds[m])
        w, b = run.params(m, -1)
        lin = [mod for mod in model if isinstance(mod, nn.Linear)]
        for l, mod in enumerate(lin):
            torch.testing.assert_close(w[l], mod.weight.detach(), rtol=1e-9, atol=1e-11)
            torch.testing.assert_close(b[l], mod.bias.detach(), rtol=1e-9, atol=1e-11)
        # padding columns of the first layer never move
        assert torch.all(run.snapshots[-1][0][0][m, :, in_dims[m]:] == 0)
        with torch.no_grad():
            torch.testing.assert_close(run.fits[-1][m], model(xs[m]), rtol=1e-9, atol=1e-11)


def test_full_batch_equals_separate_models():
    _check(None)


def test_minibatch_equals_separate_models():
    _check(10)


def test_losses_recorded_for_every_epoch_full_batch():
    ens = MLPEnsemble([2, 2], 1, 4, 1, [0, 1])
    x = torch.rand(1, 16, 2)
    run = train_ensemble(ens, x, torch.rand(16, 1), epochs=5, lr=1e-2, record_epochs=[0, 5])
    assert run.losses.shape == (2, 6)
    assert torch.isfinite(run.losses).all() and (run.losses > 0).all()
    assert run.losses[:, -1].mean() < run.losses[:, 0].mean()


def test_ensemble_init_equals_coordinate_mlp():
    from specbias_ext.nets.models import CoordinateMLP
    specs, seeds = ["raw", "pe:3"], [3, 11]
    models = [CoordinateMLP(spec, depth=2, width=7, seed=s, in_dim=1) for spec, s in zip(specs, seeds)]
    ens = MLPEnsemble([m.encoding.out_dim for m in models], 2, 7, 1, seeds)
    x = torch.zeros(2, 1, 6)
    run = train_ensemble(ens, x, torch.zeros(1, 1), epochs=0, lr=1e-3, record_epochs=[0])
    for i, model in enumerate(models):
        w_ref, b_ref = model.mlp_params()
        w, b = run.params(i, 0)
        for a, r in zip(w + b, list(w_ref) + list(b_ref)):
            assert torch.equal(a, r.detach())


def test_snapshots_are_measured_as_networks_of_the_same_models():
    """The experiments measure snapshot m through the same functions as the monitor does for
    the equivalent CoordinateMLP."""
    from specbias_ext import measure
    from specbias_ext.nets.models import CoordinateMLP
    from specbias_ext.train.monitor import RegionMonitor
    from specbias_ext.data.grids import grid_coords
    coords = grid_coords((40,))
    models = [CoordinateMLP(spec, depth=2, width=9, seed=s, in_dim=1)
              for spec, s in (("raw", 1), ("pe:3", 2))]
    inputs = [m.encode(coords.double()).float().detach() for m in models]  # as the monitor does
    ens = MLPEnsemble([x.shape[1] for x in inputs], 2, 9, 1, [1, 2])
    x = torch.zeros(2, 40, 6)
    for m, xm in enumerate(inputs):
        x[m, :, :xm.shape[1]] = xm
    run = train_ensemble(ens, x, torch.zeros(40, 1), epochs=0, lr=1e-3, record_epochs=[0])
    y = torch.sin(5 * coords)
    for m, model in enumerate(models):
        mon = RegionMonitor(coords, target=y, every=1, measurements=("regions", "neurons"))
        want = mon(model, 0)
        net = run.network(m, 0)
        p = measure.patterns(inputs[m], net)
        assert measure.region_count(p) == want["regions"]
        assert measure.neuron_activity(p, net).dead == want["dead_neurons"]
