import pytest
import torch

from bench import models
from bench.registry import UnknownNameError


@pytest.mark.parametrize("name, core", [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)])
def test_classic_models_wrap_the_fused_torch_modules(name, core):
    model = models.build(name, 2, 1, hidden=8, layers=2, tokens=False)
    assert type(model.core) is core and model.core.num_layers == 2 and model.core.batch_first
    assert model(torch.zeros(3, 11, 2)).shape == (3, 11, 1)


def test_vanilla_rnn_is_tanh():
    assert models.build("rnn", 2, 1, hidden=4, layers=1, tokens=False).core.nonlinearity == "tanh"


@pytest.mark.parametrize("embed", [0, 5])
def test_token_inputs_as_one_hot_or_embedding(embed):
    model = models.build("gru", 10, 9, hidden=8, layers=1, tokens=True, embed=embed)
    tokens = torch.randint(0, 10, (2, 7))
    assert model(tokens).shape == (2, 7, 9)
    assert (model.embedding is not None) == bool(embed)


def test_parameter_count_matches_the_formula():
    # GRU: 3 gates x (input + hidden + 2 biases) x hidden, plus the readout
    model = models.build("gru", 2, 1, hidden=8, layers=1, tokens=False)
    assert models.count_parameters(model) == 3 * 8 * (2 + 8 + 2) + 8 + 1


def test_unknown_model_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'lstm'"):
        models.build("lstn", 2, 1, hidden=8, layers=1, tokens=False)
