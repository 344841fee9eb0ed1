"""One diagnosis probe per process, for bench/gpu_check.sh: `python bench/gpu_probes.py NAME`.

Each probe exercises one path that crashed on a GPU machine (or a control beside it) and prints
what it got; a crash kills only its own process, and the script then takes a native backtrace.
Probes whose name ends in _cuda need a CUDA device.
"""
import json
import sys

import torch


def _net(device="cpu", bad_layer=None):
    gen = torch.Generator().manual_seed(0)
    dims = [3, 8, 8, 1]
    weights = [torch.randn(dims[l + 1], dims[l], generator=gen) for l in range(3)]
    biases = [torch.randn(dims[l + 1], generator=gen) for l in range(3)]
    weights = [w.to(device) for w in weights]
    biases = [b.to(device) for b in biases]
    if bad_layer is not None:
        weights[bad_layer] = weights[bad_layer].cpu()
    return weights, biases


def _expect_error(fn):
    try:
        fn()
    except (RuntimeError, ValueError, TypeError) as exc:
        print(f"raised {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return
    raise AssertionError("expected an error, none was raised")


def probe_import():
    import specbias_ext
    print(specbias_ext.__file__)


def probe_build_info():
    import specbias_ext
    print(json.dumps(specbias_ext.build_info()))


def probe_torch_int_message():
    """Control: torch's own C++ error formatting an integer (libc10's ostringstream)."""
    _expect_error(lambda: torch.zeros(2).view(3))


def _kernel_patterns():
    """The schema itself: these probes hand it malformed lists (a ReluNetwork is consistent by
    construction), so the kernel's own checks format the message."""
    import specbias_ext  # noqa: F401  (loads the kernels)
    return torch.ops.specbias.activation_patterns


def probe_int_message_cpu():
    """Our checks format a layer index into a message (csrc/common)."""
    weights, biases = _net()
    weights[1] = torch.randn(8, 5)
    _expect_error(lambda: _kernel_patterns()(torch.randn(4, 3), weights, biases))


def probe_string_message_cuda():
    """Control that raised properly on the device: a device mismatch of x alone."""
    weights, biases = _net("cuda")
    _expect_error(lambda: _kernel_patterns()(torch.randn(4, 3), weights, biases))


def probe_int_message_cuda():
    """The crashing case: CUDA inputs, weights[1] alone on the CPU (message names the layer)."""
    weights, biases = _net("cuda", bad_layer=1)
    _expect_error(lambda: _kernel_patterns()(torch.randn(4, 3, device="cuda"), weights, biases))


def probe_ops_cuda():
    """Every region op once on the GPU against the CPU."""
    import specbias_ext as sb
    net = sb.ReluNetwork.of(*_net())
    x = torch.randn(1000, 3)
    cpu = sb.activation_patterns(x, net)
    gpu = sb.activation_patterns(x.cuda(), net.to("cuda"))
    print("patterns equal:", torch.equal(cpu, gpu.cpu()))
    print("region_ids equal:", all(torch.equal(a, b.cpu()) for a, b in
                                   zip(sb.region_ids(cpu), sb.region_ids(gpu))))


def probe_crash():
    """Rehearsal of the crash path (GPU_CHECK_DRY=1 PROBES=crash): a segfault in native code."""
    import ctypes
    ctypes.string_at(0)


PROBES = {name[len("probe_"):]: fn for name, fn in globals().items() if name.startswith("probe_")}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PROBES:
        sys.exit(f"usage: gpu_probes.py {{{','.join(PROBES)}}}")
    PROBES[sys.argv[1]]()
