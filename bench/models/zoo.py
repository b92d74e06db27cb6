"""Baselines beyond rnn / lstm / gru, each as its paper defines it:

- irnn: ReLU RNN with identity recurrent weights (Le, Jaitly & Hinton 2015)
- lstm-1997: the LSTM of Hochreiter & Schmidhuber 1997, without a forget gate (the gate pinned open)
- lstm-chrono: LSTM with chrono initialisation of the gate biases (Tallec & Ollivier 2018)
- transformer: a small causal pre-norm Transformer encoder (attention instead of recurrence)
- lru: the Linear Recurrent Unit (Orvieto et al. 2023), a diagonal complex linear recurrence computed
  with a parallel scan over time (log2 T vector steps, not a Python loop per step)

Names, descriptions and versions are in bench.models.BUILT_IN. Every factory has the registry signature (n_inputs, n_outputs, hidden, layers, tokens, ...) and returns a
module mapping (batch, time[, features]) to (batch, time, n_outputs).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from bench.models.recurrent import INPUT_GATE, SequenceModel, _recurrent, set_gate_bias

IRNN_INPUT_STD = 1e-3  # Le et al.: input weights from N(0, 0.001), recurrent = identity, biases 0


def irnn(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
         embed: int = 0) -> SequenceModel:
    model = _recurrent(nn.RNN, n_inputs, n_outputs, hidden, layers, tokens, embed, nonlinearity="relu")
    for layer in range(layers):
        with torch.no_grad():
            getattr(model.core, f"weight_hh_l{layer}").copy_(torch.eye(hidden))
            nn.init.normal_(getattr(model.core, f"weight_ih_l{layer}"), std=IRNN_INPUT_STD)
            getattr(model.core, f"bias_ih_l{layer}").zero_()
            getattr(model.core, f"bias_hh_l{layer}").zero_()
    return model


def lstm_chrono(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
                embed: int = 0, seq_len: int | None = None) -> SequenceModel:
    model = _recurrent(nn.LSTM, n_inputs, n_outputs, hidden, layers, tokens, embed)
    t_max = max(seq_len or 100, 3)  # the longest dependency expected: the sequence itself
    for layer in range(layers):
        chrono_init(getattr(model.core, f"bias_ih_l{layer}"), getattr(model.core, f"bias_hh_l{layer}"),
                    hidden, t_max)
    return model


def chrono_init(bias_ih: torch.Tensor, bias_hh: torch.Tensor, hidden: int, t_max: int) -> None:
    """b_f ~ log U[1, T_max - 1], b_i = -b_f: forget-gate time constants spread up to T_max.
    PyTorch orders the gates (input, forget, cell, output) and adds two bias vectors; the hh ones are
    zeroed for i and f so the sum is exactly the chrono value."""
    forget = torch.log(torch.empty(hidden).uniform_(1, t_max - 1))
    with torch.no_grad():
        bias_ih[hidden:2 * hidden] = forget
        bias_ih[:hidden] = -forget
        bias_hh[:2 * hidden] = 0


# sigmoid(20) rounds to exactly 1.0 in float32 (and bfloat16/float16): the cell state is carried unchanged
OPEN_GATE_BIAS = 20.0


def lstm_1997(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
              embed: int = 0, input_bias: tuple[float, ...] | None = None) -> SequenceModel:
    """A fused nn.LSTM (so cuDNN/oneDNN kernels still run) whose forget gate is held at exactly 1: its
    input and recurrent weights are zero and its bias saturates the sigmoid, and gradient hooks zero their
    gradients so no optimizer moves them (Adam without weight decay leaves a parameter with zero gradient
    where it is). What still differs from the 1997 cell: the cell input and output squashing are tanh
    (1997: g in [-2, 2], h in [-1, 1]), there is one gate pair per unit rather than per memory block, and
    the gradient is not truncated (1997 truncated it at the cell's inputs).

    `input_bias` (e.g. (-3, -6)) sets the input-gate biases per block of units, as the 1997 paper
    initialises them per memory-cell block (Exp. 4: -3 and -6; task 6a: -2 and -4): negative input
    biases keep distractors out of cells that never forget. Without it the input gates keep PyTorch's
    initialisation (biases near 0), so every input is written into the cells."""
    if input_bias is not None and len(input_bias) > hidden:
        raise ValueError(f"input_bias has {len(input_bias)} blocks but the model has only {hidden} units")
    model = _recurrent(nn.LSTM, n_inputs, n_outputs, hidden, layers, tokens, embed)
    for layer in range(layers):
        if input_bias is not None:
            set_gate_bias(model.core, layer, INPUT_GATE, hidden, input_bias)
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            _pin_forget_gate(getattr(model.core, f"{kind}_l{layer}"), hidden, OPEN_GATE_BIAS if kind == "bias_ih" else 0.0)
    return model


def _pin_forget_gate(parameter: nn.Parameter, hidden: int, value: float) -> None:
    """Set the forget-gate rows (PyTorch's gate order is input, forget, cell, output) and keep them there."""
    rows = slice(hidden, 2 * hidden)
    with torch.no_grad():
        parameter[rows] = value
    keep = torch.ones_like(parameter)
    keep[rows] = 0
    parameter.register_hook(lambda grad: grad * keep.to(grad.device))


# --- transformer ---------------------------------------------------------------------------------

class CausalTransformer(nn.Module):
    """Token embedding (or a linear map of features) plus sinusoidal positions, `layers` pre-norm
    blocks with causal self-attention, a final norm and a linear readout per step."""

    def __init__(self, n_inputs: int, n_outputs: int, width: int, layers: int, tokens: bool, heads: int) -> None:
        super().__init__()
        self.encode = nn.Embedding(n_inputs, width) if tokens else nn.Linear(n_inputs, width)
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.readout = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        h = self.encode(x) + sinusoidal_positions(steps, self.readout.in_features, x.device)
        causal = nn.Transformer.generate_square_subsequent_mask(steps, device=x.device)
        return self.readout(self.norm(self.blocks(h, mask=causal, is_causal=True)))


def sinusoidal_positions(steps: int, width: int, device: torch.device) -> torch.Tensor:
    """(steps, width) sin/cos positions (Vaswani et al. 2017): no learned table, so any length works."""
    position = torch.arange(steps, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, device=device) * (-math.log(10000.0) / width))
    table = torch.zeros(steps, width, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


def transformer(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
                heads: int = 0) -> CausalTransformer:
    heads = heads or next(h for h in (4, 2, 1) if hidden % h == 0)
    return CausalTransformer(n_inputs, n_outputs, hidden, layers, tokens, heads)


# --- linear recurrent unit ---------------------------------------------------------------------------

def linear_scan(decay: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """h_t = decay * h_{t-1} + inputs_t (h_{-1} = 0) along dim 1, for a per-channel constant `decay`.

    Hillis-Steele scan: after the round with offset d, h_t holds the sum over its last 2d inputs, so
    ceil(log2 T) vectorised rounds replace T sequential steps."""
    h, power, offset, steps = inputs, decay, 1, inputs.shape[1]
    while offset < steps:
        shifted = torch.cat([torch.zeros_like(h[:, :offset]), h[:, :-offset] * power], dim=1)
        h, power, offset = h + shifted, power * power, 2 * offset
    return h


class LRULayer(nn.Module):
    """x_t = diag(lambda) x_{t-1} + gamma * (B u_t), y_t = Re(C x_t) + D * u_t, with
    lambda = exp(-exp(nu) + i exp(theta)) initialised on a ring r_min <= |lambda| <= r_max and
    gamma = sqrt(1 - |lambda|^2) normalising the state (Orvieto et al. 2023, section 3)."""

    def __init__(self, width: int, state: int, r_min: float = 0.9, r_max: float = 0.999,
                 max_phase: float = 2 * math.pi) -> None:
        super().__init__()
        radius_sq = torch.rand(state) * (r_max**2 - r_min**2) + r_min**2
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(radius_sq)))
        self.theta_log = nn.Parameter(torch.log(max_phase * torch.rand(state).clamp_min(1e-4)))
        self.gamma_log = nn.Parameter(0.5 * torch.log(1 - radius_sq))
        self.B_re = nn.Parameter(torch.randn(state, width) / math.sqrt(2 * width))
        self.B_im = nn.Parameter(torch.randn(state, width) / math.sqrt(2 * width))
        self.C_re = nn.Parameter(torch.randn(width, state) / math.sqrt(state))
        self.C_im = nn.Parameter(torch.randn(width, state) / math.sqrt(state))
        self.D = nn.Parameter(torch.randn(width))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        decay = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        B = torch.complex(self.B_re, self.B_im) * torch.exp(self.gamma_log)[:, None]
        states = linear_scan(decay, u.to(B.dtype) @ B.T)
        return (states @ torch.complex(self.C_re, self.C_im).T).real + u * self.D


class LRUBlock(nn.Module):
    """Pre-norm residual block: LayerNorm, LRU, GELU, then a GLU channel mix (the paper's block)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm, self.lru, self.mix = nn.LayerNorm(width), LRULayer(width, width), nn.Linear(width, 2 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.glu(self.mix(F.gelu(self.lru(self.norm(x)))), dim=-1)


class LRUNetwork(nn.Module):
    """Encoder, `layers` LRU blocks, a final norm and a linear readout per step."""

    def __init__(self, n_inputs: int, n_outputs: int, width: int, layers: int, tokens: bool) -> None:
        super().__init__()
        self.encode = nn.Embedding(n_inputs, width) if tokens else nn.Linear(n_inputs, width)
        self.blocks = nn.Sequential(*(LRUBlock(width) for _ in range(layers)))
        self.norm, self.readout = nn.LayerNorm(width), nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.norm(self.blocks(self.encode(x))))


def lru(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False) -> LRUNetwork:
    return LRUNetwork(n_inputs, n_outputs, hidden, layers, tokens)
