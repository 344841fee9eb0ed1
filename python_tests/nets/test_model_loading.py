"""load_user_model / load_saved_module: building a user's model from 'module:Class' or a factory,
loading a state dict or a whole saved module with weights_only=True, and every refusal."""
from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

from specbias_ext import relu_network
from specbias_ext.nets.loading import (load_saved_module, load_user_model, model_attribute,
                                       resolve_model_spec)

USER_MODULE = textwrap.dedent('''
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, width=8, in_dim=2):
            super().__init__()
            self.a, self.b = nn.Linear(in_dim, width), nn.Linear(width + in_dim, 1)

        def forward(self, x):
            return self.b(torch.cat([torch.relu(self.a(x)), x], -1))

    def make(width):
        return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Dropout(0.5), nn.Linear(width, 1))

    NOT_CALLABLE = 3
''')


@pytest.fixture
def user_pkg(tmp_path, monkeypatch):
    (tmp_path / "usernets_for_tests.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_class_spec_with_args_and_state_dict(user_pkg):
    trained = load_user_model("usernets_for_tests:Net", {"width": 5})
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    path = user_pkg / "net.pt"
    torch.save(trained.state_dict(), path)
    loaded = load_user_model("usernets_for_tests:Net", {"width": 5}, str(path))
    assert not loaded.training
    x = torch.rand(7, 2)
    torch.testing.assert_close(loaded(x), trained(x))
    assert relu_network(loaded).input_skips == (False, True)


def test_factory_from_a_file_path_and_a_checkpoint_dict(user_pkg):
    model = load_user_model(f"{user_pkg / 'usernets_for_tests.py'}:make", {"width": 4})
    assert isinstance(model, nn.Sequential) and not model[2].training  # eval: dropout off
    path = user_pkg / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "epoch": 3}, path)
    again = load_user_model(lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Dropout(0.5),
                                                  nn.Linear(4, 1)), None, str(path))
    x = torch.rand(5, 2)
    torch.testing.assert_close(again(x), model(x))


@pytest.mark.parametrize("spec,error,match", [
    ("usernets_for_tests.Net", ValueError, r"model: expected 'package.module:Class'"),
    (":Net", ValueError, r"model: expected 'package.module:Class'"),
    ("no_such_module_xyz:Net", ImportError, r"model: could not import 'no_such_module_xyz'"),
    ("usernets_for_tests:Missing", AttributeError, r"has no attribute 'Missing'"),
    ("usernets_for_tests:NOT_CALLABLE", TypeError, r"is a int, expected a class or a factory"),
    ("missing_file.py:Net", FileNotFoundError, r"'missing_file.py' .* is not a file"),
])
def test_bad_specs(user_pkg, spec, error, match):
    with pytest.raises(error, match=match):
        resolve_model_spec(spec)


def test_bad_args_and_mismatched_state_dicts(user_pkg):
    with pytest.raises(TypeError, match=r"model_args: Net rejected \{'depth': 3\}"):
        load_user_model("usernets_for_tests:Net", {"depth": 3})
    with pytest.raises(TypeError, match=r"model_args: expected a dict"):
        load_user_model("usernets_for_tests:Net", [3])
    with pytest.raises(TypeError, match=r"model: .*<lambda> returned a int, expected an nn.Module"):
        load_user_model(lambda: 3)
    path = user_pkg / "w.pt"
    torch.save(load_user_model("usernets_for_tests:Net", {"width": 5}).state_dict(), path)
    with pytest.raises(ValueError,
                       match=r"(?s)does not fit Net \(check model_args\).*size mismatch"):
        load_user_model("usernets_for_tests:Net", {"width": 6}, str(path))
    torch.save({"a.weight": torch.zeros(5, 2)}, path)
    with pytest.raises(ValueError, match=r"missing keys \['a.bias'"):
        load_user_model("usernets_for_tests:Net", {"width": 5}, str(path))
    torch.save({"epoch": 3, "notes": "x"}, path)
    with pytest.raises(TypeError, match=r"holds a dict that is not a state dict"):
        load_user_model("usernets_for_tests:Net", None, str(path))
    with pytest.raises(FileNotFoundError, match=r"state_dict_path: .* is not a file"):
        load_user_model("usernets_for_tests:Net", None, str(user_pkg / "nope.pt"))


def test_whole_saved_module(user_pkg):
    from usernets_for_tests import Net
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    path = user_pkg / "whole.pt"
    torch.save(seq, path)
    loaded = load_saved_module(str(path))
    x = torch.rand(4, 2)
    torch.testing.assert_close(loaded(x), seq(x))
    torch.save(Net(), path)
    with pytest.raises(ValueError, match=r"cannot be loaded safely \(weights_only=True\): it "
                                         r"names usernets_for_tests.Net, which is not on the "
                                         r"allow-list.*allowed_classes"):
        load_saved_module(str(path))
    assert isinstance(load_saved_module(str(path), allowed_classes=[Net]), Net)
    torch.save(seq.state_dict(), path)
    with pytest.raises(TypeError, match=r"holds a state dict, not a whole module"):
        load_saved_module(str(path))


def test_a_key_prefix_mismatch_names_the_prefix(user_pkg, tmp_path):
    build = lambda: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),  # noqa: E731
                                        torch.nn.Linear(3, 1))
    model = build()
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, wrapped)
    with pytest.raises(ValueError, match=r"missing keys \['0.weight'.*the model's keys are the "
                                         r"file's that start with 'module.' .*pass "
                                         r"state_dict_prefix='module.'"):
        load_user_model(build, state_dict_path=str(wrapped))
    loaded = load_user_model(build, state_dict_path=str(wrapped), state_dict_prefix="module.")
    assert torch.equal(loaded[0].weight, model[0].weight)

    whole = tmp_path / "whole.pt"   # a model that holds this one, next to an encoding buffer
    torch.save({"encoding.B": torch.ones(3), **{"net." + k: v for k, v in
                                                model.state_dict().items()}}, whole)
    with pytest.raises(ValueError, match=r"pass state_dict_prefix='net.'"):
        load_user_model(build, state_dict_path=str(whole))
    with pytest.raises(ValueError, match=r"state_dict_prefix: no key of .* starts with 'x.'"):
        load_user_model(build, state_dict_path=str(whole), state_dict_prefix="x.")

    def holder():
        outer = torch.nn.Module()
        outer.trunk, outer.extra = build(), torch.nn.Linear(4, 4)
        return outer

    part = tmp_path / "part.pt"
    torch.save(model.state_dict(), part)
    with pytest.raises(ValueError, match=r"the file holds the state of a part of the model: its "
                                         r"keys are the model's under 'trunk.' without that "
                                         r"prefix"):
        load_user_model(holder, state_dict_path=str(part))


def test_model_attribute_names_a_part_of_the_loaded_model():
    model = torch.nn.Module()
    model.field = torch.nn.Module()
    model.field.encoding = torch.nn.Identity()
    model.size = 3
    assert model_attribute(model, "field.encoding") is model.field.encoding
    with pytest.raises(AttributeError, match=r"encoding: Module has no attribute 'field.enc'"):
        model_attribute(model, "field.enc")
    with pytest.raises(TypeError, match=r"encoding: Module.size is a int, expected a module or "
                                        r"function of the coordinates"):
        model_attribute(model, "size")
