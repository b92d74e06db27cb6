"""Today's parallel-scan recurrences, each checked against its own step-by-step form:

- s6: the selective state-space layer of Mamba (Gu & Dao 2023, arXiv:2312.00752, Sec. 3 and Algorithm 2),
  in Mamba's block: input projection to two branches of expansion x width, a causal depthwise convolution
  (kernel 4) and SiLU on one, the selective SSM on it, gated by SiLU of the other, projected back. The SSM
  has a diagonal A = -exp(A_log) (S4D-real init, A_n = -n), and input-dependent step, input and output
  matrices: Delta_t = softplus(W_Delta x_t + b) (Delta's rank ceil(width / 16), its bias set so that
  Delta starts log-uniform in [0.001, 0.1]), B_t = W_B x_t, C_t = W_C x_t. Discretised as Mamba does:
  h_t = exp(Delta_t A) h_{t-1} + Delta_t B_t x_t, y_t = C_t h_t + D x_t, per channel, `state` numbers each.
  The parallel form scans chunks of CHUNK steps with a Hillis-Steele scan inside each (log2 CHUNK vector
  rounds, stable: every factor is a decay in (0, 1]) and carries the state from chunk to chunk; Mamba's
  fused, recomputing CUDA kernel is not used.

- mingru, minlstm: the minimal GRU and LSTM of Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024 ("Were RNNs
  All We Needed?", arXiv:2410.01201, Sec. 3 and its log-space algorithms). Their gates and candidate state
  depend on the input only, so h_t = a_t * h_{t-1} + b_t is a first-order linear recurrence that a scan
  computes in parallel over time: in log space, h_t = exp(A_t) * sum_{s<=t} exp(log b_s - A_s) with
  A_t = sum_{k<=t} log a_k (Heinsen 2023), one cumsum and one logcumsumexp instead of T steps.

  minGRU: z_t = sigmoid(W_z x_t), h~_t = g(W_h x_t), h_t = (1 - z_t) h_{t-1} + z_t h~_t.
  minLSTM: f_t = sigmoid(W_f x_t), i_t = sigmoid(W_i x_t), normalised to f' = f / (f + i), i' = i / (f + i),
  h~_t = g(W_h x_t), h_t = f'_t h_{t-1} + i'_t h~_t.
  g(x) = x + 1/2 for x >= 0, sigmoid(x) below (the paper's log-space form keeps h~ positive). h_{-1} = 0.

Each cell sits in the same pre-norm residual block as bench's lru (LayerNorm, the cell, GELU, a GLU channel
mix, the residual; bench's block, not the paper's code), `layers` of them between an encoder and a per-step
readout. `expansion` widens the cell's state to expansion x width (Feng et al. use an expansion factor in
their stacked models); the GLU mix maps it back.

- mlstm: the matrix-memory LSTM cell of xLSTM (Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp, Klambauer,
  Brandstetter & Hochreiter 2024, arXiv:2405.04517, Sec. 2.3 and Appendix A.3), per head of size d:
  C_t = f_t C_{t-1} + i_t v_t k_t^T, n_t = f_t n_{t-1} + i_t k_t, h_t = o_t * C_t q_t / max(|n_t^T q_t|, 1),
  with an exponential input gate i_t = exp(i~_t), a sigmoid forget gate, k scaled by 1/sqrt(d), and the
  paper's stabiliser m_t = max(log f_t + m_{t-1}, i~_t) dividing both out (so the bound 1 becomes
  exp(-m_t)). Its parallel form is the paper's: a causal (T x T) decay matrix D_ts = exp(sum of log f over
  s+1..t + i~_s - m_t) weighting the (q_t . k_s) scores, normalised per row. q, k, v, the gates and the output
  gate are projections of the block's normed input (inner width = expansion x width, `heads` heads), in a
  pre-norm residual block with an output projection (the inner width rounded up to whole heads): bench's block, not the paper's (no causal convolution,
  no group norm, no up-projection gate).

`forward` is the parallel form used for training; `forward_with_states` replays the same network one step
at a time (every layer's state at every step), the sequential reference the tests hold it equal to and
what the gradient-flow probe differentiates (bench/flow.py).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from bench.models import MAX_EXPANSION, MLSTM_PARALLEL_STEPS as PARALLEL_STEPS  # declared with the models

CHUNK = 16  # steps per chunk of the S6 scan: log2(CHUNK) vector rounds inside, a carried state between
CONV = 4  # Mamba's causal depthwise convolution kernel


def g(x: torch.Tensor) -> torch.Tensor:
    """Feng et al.'s positive activation for the candidate state: x + 1/2 above 0, sigmoid below."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), computed without forming g where it would lose precision."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t along dim 1 (h_{-1} = 0), from log a and log b (b > 0): Heinsen's scan."""
    a_star = torch.cumsum(log_a, dim=1)
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))


class MinGRUCell(nn.Module):
    """The minGRU recurrence over (batch, time, width) inputs; its state has `size` units."""

    def __init__(self, width: int, size: int) -> None:
        super().__init__()
        self.gate, self.candidate = nn.Linear(width, size), nn.Linear(width, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.gate(x)  # log z = -softplus(-k), log (1 - z) = -softplus(k)
        return log_space_scan(-F.softplus(k), -F.softplus(-k) + log_g(self.candidate(x)))

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        z = torch.sigmoid(self.gate(x))
        return (1 - z) * h + z * g(self.candidate(x))


class MinLSTMCell(nn.Module):
    """The minLSTM recurrence (normalised forget and input gates) over (batch, time, width) inputs."""

    def __init__(self, width: int, size: int) -> None:
        super().__init__()
        self.forget, self.input, self.candidate = (nn.Linear(width, size) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # log f' = -softplus(d), log i' = -softplus(-d), with d = log i - log f = softplus(-k_f) - softplus(-k_i)
        difference = F.softplus(-self.forget(x)) - F.softplus(-self.input(x))
        return log_space_scan(-F.softplus(difference), -F.softplus(-difference) + log_g(self.candidate(x)))

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        f, i = torch.sigmoid(self.forget(x)), torch.sigmoid(self.input(x))
        return (f * h + i * g(self.candidate(x))) / (f + i)


def chunked_scan(log_a: torch.Tensor, b: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """h_t = exp(log_a_t) * h_{t-1} + b_t along dim 1 (h_{-1} = 0), log_a <= 0, any trailing shape: a
    Hillis-Steele scan inside each chunk, the state carried across chunks."""
    outputs, carried = [], None
    for start in range(0, b.shape[1], chunk):
        decay, h = torch.exp(log_a[:, start:start + chunk]), b[:, start:start + chunk]
        total, offset = decay, 1  # total: the product of the decays over each step's window so far
        while offset < h.shape[1]:
            h = h + torch.cat([torch.zeros_like(h[:, :offset]), h[:, :-offset] * total[:, offset:]], dim=1)
            total = total * torch.cat([torch.ones_like(total[:, :offset]), total[:, :-offset]], dim=1)
            offset *= 2
        if carried is not None:
            h = h + total * carried[:, None]
        outputs.append(h)
        carried = h[:, -1]
    return torch.cat(outputs, dim=1)


def looped_scan(dt: torch.Tensor, A: torch.Tensor, x: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """y_t = C_t . h_t with h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t, one step at a time over dim 1 (Mamba's
    reference scan): dt and x (batch, T, inner), A (inner, N), B and C (batch, T, N). Forms only
    (batch, inner, N) numbers per step."""
    h = x.new_zeros(x.shape[0], x.shape[2], A.shape[1])
    outputs = []
    # unbind, not x[:, t]: the backward of T slices would each write a whole (batch, T, ...) gradient
    for dt_t, x_t, B_t, C_t in zip(dt.unbind(1), x.unbind(1), B.unbind(1), C.unbind(1)):
        h = torch.exp(dt_t[..., None] * A) * h + (dt_t * x_t)[..., None] * B_t[:, None, :]
        outputs.append((h * C_t[:, None, :]).sum(-1))
    return torch.stack(outputs, dim=1)


class S6(nn.Module):
    """Mamba's block around the selective SSM (see the module docstring); width -> width."""

    def __init__(self, width: int, state: int, expansion: int) -> None:
        super().__init__()
        inner, rank = expansion * width, math.ceil(width / 16)
        self.inner, self.rank, self.state = inner, rank, state
        self.in_proj = nn.Linear(width, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, CONV, groups=inner, padding=CONV - 1)
        self.x_proj = nn.Linear(inner, rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(rank, inner)
        step = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        with torch.no_grad():  # softplus(bias) = step: Delta starts log-uniform in [0.001, 0.1]
            self.dt_proj.bias.copy_(step + torch.log(-torch.expm1(-step)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, width, bias=False)
        self.scan = "auto"  # see forward

    @property
    def state_size(self) -> int:
        """What the step form carries: the convolution's last CONV - 1 inputs and the SSM state."""
        return self.inner * (CONV - 1) + self.inner * self.state

    def _parameters_of(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Delta, B, C) for conv outputs x (..., inner)."""
        dt, B, C = self.x_proj(x).split([self.rank, self.state, self.state], dim=-1)
        return F.softplus(self.dt_proj(dt)), B, C

    def _selective(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log decay Delta A, input Delta B x, C) for conv outputs x (..., inner)."""
        dt, B, C = self._parameters_of(x)
        return dt[..., None] * -torch.exp(self.A_log), (dt * x)[..., None] * B[..., None, :], C

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """`scan` "auto": the parallel chunked scan on a GPU; on a CPU the looped scan, which is faster there
        (its steps are small, where the chunked scan writes every (step, channel, state) number log2(CHUNK)
        times: about 0.1-0.3x at L=200, docs/speed.md). "chunked" or "looped" force one. Both are tested equal to `step`."""
        x, z = self.in_proj(u).chunk(2, dim=-1)
        x = F.silu(self.conv(x.transpose(1, 2))[..., :u.shape[1]].transpose(1, 2))
        if self.scan == "chunked" or (self.scan == "auto" and u.is_cuda):
            log_a, b, C = self._selective(x)
            y = torch.einsum("btdn,btn->btd", chunked_scan(log_a, b), C)
        else:
            dt, B, C = self._parameters_of(x)
            y = looped_scan(dt, -torch.exp(self.A_log), x, B, C)
        return self.out_proj((y + x * self.D) * F.silu(z))

    def advance(self, u: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """One time step of the state: u (batch, width), the carried state (batch, state_size) -> the new
        state (the convolution's last CONV - 1 inputs, oldest first, then the SSM state)."""
        old_window, h = self._split(state, len(u))
        x = self.in_proj(u).chunk(2, dim=-1)[0]
        window = torch.cat([old_window[..., 1:], x[..., None]], dim=2)
        log_a, b, _ = self._selective(self._convolved(old_window, window))
        h = torch.exp(log_a) * h + b
        return torch.cat([window.flatten(1), h.flatten(1)], dim=1)

    def emit(self, u: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """The step's output, read from the new state (and the oldest input of the old one)."""
        window, h = self._split(new, len(u))
        x = self._convolved(self._split(old, len(u))[0], window)
        z = self.in_proj(u).chunk(2, dim=-1)[1]
        y = (h * self._selective(x)[2][:, None, :]).sum(-1) + x * self.D
        return self.out_proj(y * F.silu(z))

    def _split(self, state: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        window, h = state.split([self.inner * (CONV - 1), self.inner * self.state], dim=1)
        return window.view(batch, self.inner, CONV - 1), h.view(batch, self.inner, self.state)

    def _convolved(self, old_window: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """SiLU of the causal convolution at this step: the oldest input of the old window, then the new one."""
        inputs = torch.cat([old_window[..., :1], window], dim=2)
        return F.silu((inputs * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)


class MambaBlock(nn.Module):
    """Mamba's residual block: x + S6(LayerNorm(x))."""

    def __init__(self, width: int, state: int, expansion: int) -> None:
        super().__init__()
        self.norm, self.mixer = nn.LayerNorm(width), S6(width, state, expansion)
        self.state_size = self.mixer.state_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))

    def advance(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.mixer.advance(self.norm(x), state)

    def emit(self, x: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        return x + self.mixer.emit(self.norm(x), old, new)


class ScanBlock(nn.Module):
    """Pre-norm residual block: LayerNorm, the cell, GELU, then a GLU channel mix back to the width."""

    def __init__(self, width: int, cell: nn.Module, size: int) -> None:
        super().__init__()
        self.norm, self.cell, self.mix = nn.LayerNorm(width), cell, nn.Linear(size, 2 * width)
        self.state_size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self._out(self.cell(self.norm(x)))

    def advance(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One time step of the cell's state: x (batch, width), its previous state h -> the new one."""
        return self.cell.step(self.norm(x), h)

    def emit(self, x: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """The step's output from the new state."""
        return x + self._out(new)

    def _out(self, states: torch.Tensor) -> torch.Tensor:
        return F.glu(self.mix(F.gelu(states)), dim=-1)


class ScanNetwork(nn.Module):
    """Encoder, `layers` blocks (each made by `block(width)`, with a parallel `forward` and a `step`), a final
    norm and a linear readout per step."""

    def __init__(self, block: Callable[[int], nn.Module], n_inputs: int, n_outputs: int, width: int, layers: int,
                 tokens: bool) -> None:
        super().__init__()
        self.encode = nn.Embedding(n_inputs, width) if tokens else nn.Linear(n_inputs, width)
        self.blocks = nn.ModuleList(block(width) for _ in range(layers))
        self.norm, self.readout = nn.LayerNorm(width), nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encode(x)
        for block in self.blocks:
            h = block(h)
        return self.readout(self.norm(h))

    def forward_with_states(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The same outputs computed one step at a time, and the whole state s_t (every layer's, stacked) at
        every step. Each step reads the stacked tensor the step before produced, and its output is emitted
        from the stacked tensor too (a second pass over the layers' outputs when there are several), so that
        dL/ds_t is the partial derivative the probe wants: through the step's output and the next step,
        never through another layer's state within the step."""
        inputs = self.encode(x)
        sizes = [block.state_size for block in self.blocks]
        state = torch.cat([block.initial_state(len(x), inputs) if hasattr(block, "initial_state")
                           else inputs.new_zeros(len(x), size) for block, size in zip(self.blocks, sizes)], dim=1)
        tops, states = [], []
        for u in inputs.unbind(1):  # unbind: one gradient stack in the backward, not T whole-size slices
            olds, news, top = state.split(sizes, dim=1), [], u
            for block, old in zip(self.blocks, olds):
                news.append(block.advance(top, old))
                top = block.emit(top, old, news[-1])
            state = news[0] if len(news) == 1 else torch.cat(news, dim=1)  # as recurrent.unroll stacks it
            if len(news) > 1:  # the residual stream again, from the stacked state
                top = u
                for block, old, new in zip(self.blocks, olds, state.split(sizes, dim=1)):
                    top = block.emit(top, old, new)
            tops.append(top)
            states.append(state)
        return self.readout(self.norm(torch.stack(tops, 1))), states


MLSTM_START = -1e30  # m_0: the stabiliser before any input (minus infinity, kept finite for autograd)


class MLSTM(nn.Module):
    """The mLSTM cell over (batch, time, width) -> (batch, time, inner), parallel and step by step."""

    def __init__(self, width: int, inner: int, heads: int) -> None:
        super().__init__()
        self.heads, self.inner, self.head = heads, inner, inner // heads
        self.qkv = nn.Linear(width, 3 * inner)
        self.gates = nn.Linear(width, 2 * heads)  # input and forget pre-activations, one of each per head
        self.output_gate = nn.Linear(width, inner)
        with torch.no_grad():  # forget gates start open (xLSTM: bias linspace 3..6), input gates near 0
            self.gates.bias[heads:] = torch.linspace(3.0, 6.0, heads)
            self.gates.bias[:heads] = 0.0
        self.form = "auto"  # see forward

    @property
    def state_size(self) -> int:
        """C (d x d per head), n (d per head) and m (one per head)."""
        return self.heads * (self.head * self.head + self.head + 1)

    def _projected(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """q, k (scaled by 1/sqrt(d)), v as (..., heads, d); input and log-forget pre-activations (..., heads)."""
        q, k, v = (part.unflatten(-1, (self.heads, self.head)) for part in self.qkv(x).chunk(3, dim=-1))
        input_gate, forget_gate = self.gates(x).chunk(2, dim=-1)
        return q, k / math.sqrt(self.head), v, input_gate, F.logsigmoid(forget_gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`form` "auto": the parallel form up to PARALLEL_STEPS steps, the recurrent one beyond (its T x T
        matrices outgrow the recurrence: about 2x faster at L=200, 0.19x at L=1000 on a CPU, docs/speed.md);
        "parallel" or "recurrent" force one. Both are tested equal to `step`."""
        if self.form == "recurrent" or (self.form == "auto" and x.shape[1] > PARALLEL_STEPS):
            state, outputs = self.initial_state(len(x), x), []
            for x_t in x.unbind(1):
                h, state = self.step(x_t, state)
                outputs.append(h)
            return torch.stack(outputs, dim=1)
        return self._parallel(x)

    def _parallel(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v, input_gate, log_forget = (part.transpose(1, 2) for part in self._projected(x))  # heads first
        steps = x.shape[1]
        cumulative = torch.cumsum(log_forget, dim=-1)  # (batch, heads, T)
        causal = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril()
        log_d = (cumulative[..., :, None] - cumulative[..., None, :] + input_gate[..., None, :]).masked_fill(
            ~causal, float("-inf"))  # sum of log f over s+1..t, plus i~_s, for s <= t
        m = log_d.amax(dim=-1, keepdim=True)
        scores = (q @ k.transpose(-1, -2)) * torch.exp(log_d - m)
        normaliser = torch.maximum(scores.sum(-1, keepdim=True).abs(), torch.exp(-m))
        h = (scores / normaliser) @ v  # (batch, heads, T, d)
        return torch.sigmoid(self.output_gate(x)) * h.transpose(1, 2).flatten(2)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: x (batch, width), state (batch, state_size) -> (h (batch, inner), new state)."""
        new = self.advance(x, state)
        return self.emit(x, state, new), new

    def advance(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The new state (C, n and the stabiliser m of each head) after input x."""
        C, n, m = self._split(state)
        _, k, v, input_gate, log_forget = self._projected(x)
        m_new = torch.maximum(log_forget + m, input_gate)
        forget, write = torch.exp(log_forget + m - m_new), torch.exp(input_gate - m_new)
        C = forget[..., None, None] * C + write[..., None, None] * v[..., :, None] * k[..., None, :]
        n = forget[..., None] * n + write[..., None] * k
        return torch.cat([C.flatten(1), n.flatten(1), m_new], dim=1)

    def emit(self, x: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """h (batch, inner), read from the new state with this step's query and output gate."""
        C, n, m = self._split(new)
        q = self._projected(x)[0]
        numerator = (C @ q[..., None])[..., 0]
        normaliser = torch.maximum((n * q).sum(-1).abs(), torch.exp(-m))
        return torch.sigmoid(self.output_gate(x)) * (numerator / normaliser[..., None]).flatten(1)

    def _split(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        heads, d = self.heads, self.head
        C, n, m = state.split([heads * d * d, heads * d, heads], dim=1)
        return C.view(-1, heads, d, d), n.view(-1, heads, d), m

    def initial_state(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        state = like.new_zeros(batch, self.state_size)
        state[:, -self.heads:] = MLSTM_START
        return state


class MLSTMBlock(nn.Module):
    """Pre-norm residual block: x + W_out mLSTM(LayerNorm(x))."""

    def __init__(self, width: int, expansion: int, heads: int) -> None:
        super().__init__()
        inner = heads * math.ceil(expansion * width / heads)  # expansion x width, rounded up to whole heads
        self.norm, self.cell, self.out = nn.LayerNorm(width), MLSTM(width, inner, heads), nn.Linear(inner, width)
        self.state_size = self.cell.state_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out(self.cell(self.norm(x)))

    def advance(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.cell.advance(self.norm(x), state)

    def emit(self, x: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        return x + self.out(self.cell.emit(self.norm(x), old, new))

    def initial_state(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return self.cell.initial_state(batch, like)


def _checked(expansion: int | None, default: int = 1) -> int:
    expansion = default if expansion is None else expansion
    if not 1 <= expansion <= MAX_EXPANSION:
        raise ValueError(f"expansion must be 1..{MAX_EXPANSION}")
    return expansion


def _min_block(cell: type[nn.Module], expansion: int) -> Callable[[int], nn.Module]:
    return lambda width: ScanBlock(width, cell(width, width * expansion), width * expansion)


def mingru(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
           expansion: int | None = None) -> ScanNetwork:
    return ScanNetwork(_min_block(MinGRUCell, _checked(expansion)), n_inputs, n_outputs, hidden, layers, tokens)


def minlstm(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
            expansion: int | None = None) -> ScanNetwork:
    return ScanNetwork(_min_block(MinLSTMCell, _checked(expansion)), n_inputs, n_outputs, hidden, layers, tokens)


def s6(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
       state: int | None = None, expansion: int | None = None) -> ScanNetwork:
    state, expansion = state or 16, _checked(expansion, default=2)
    return ScanNetwork(lambda width: MambaBlock(width, state, expansion), n_inputs, n_outputs, hidden, layers, tokens)


def mlstm(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
          heads: int | None = None, expansion: int | None = None) -> ScanNetwork:
    heads, expansion = heads or 4, _checked(expansion, default=2)
    return ScanNetwork(lambda width: MLSTMBlock(width, expansion, heads), n_inputs, n_outputs, hidden, layers, tokens)
