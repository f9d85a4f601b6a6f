"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, batch_first, dropout
between layers, initial states) and the single-step RNNCell, LSTMCell, GRUCell, with
PyTorch's parameter names and layouts (weight_ih_l0, weight_hh_l0, bias_ih_l0,
bias_hh_l0, ..._reverse; gates stacked as LSTM (i, f, g, o) and GRU (r, z, n)), so
state dicts load either way, and PyTorch's initialisation U(-1/sqrt(hidden_size),
1/sqrt(hidden_size)) drawn in parameter order.

A layer's input projections for all time steps are one matmul; the recurrence runs
through `tracer.scan`: a Python loop eagerly, one loop equation in a traced function
(so compile time does not grow with the sequence length).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from compiler.errors import ShapeError
from compiler.operand import Operand
from tracer import creation
from tracer.control import scan
from tracer.functions import cat, stack
from tracer.nn import functional as F
from tracer.nn import init
from tracer.nn.modules.linear import factory_dtype
from tracer.nn.modules.module import Module
from tracer.nn.parameter import Parameter

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---- one step of each cell: (input projection x W_ih^T + b_ih, state) -> new state -----


def _rnn_step(act: Callable[[Any], Any]) -> Callable[..., Any]:
    def step(xw: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
        return act(xw + F.linear(h, w_hh, b_hh))

    return step


def _lstm_step(xw: Any, state: tuple[Any, Any], w_hh: Any, b_hh: Any) -> tuple[Any, Any]:
    h, c = state
    gates = xw + F.linear(h, w_hh, b_hh)
    n = h.shape[-1]
    i = gates[..., :n].sigmoid()
    f = gates[..., n : 2 * n].sigmoid()
    g = gates[..., 2 * n : 3 * n].tanh()
    o = gates[..., 3 * n :].sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(xw: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
    hw = F.linear(h, w_hh, b_hh)
    n = h.shape[-1]
    r = (xw[..., :n] + hw[..., :n]).sigmoid()
    z = (xw[..., n : 2 * n] + hw[..., n : 2 * n]).sigmoid()
    new = (xw[..., 2 * n :] + r * hw[..., 2 * n :]).tanh()
    return (1 - z) * new + z * h


def _step(mode: str) -> Callable[..., Any]:
    return {
        "RNN_TANH": _rnn_step(lambda v: v.tanh()),
        "RNN_RELU": _rnn_step(lambda v: v.relu()),
        "LSTM": _lstm_step,
        "GRU": _gru_step,
    }[mode]


def recurrence(
    mode: str,
    x: Any,
    state: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any = None,
    b_hh: Any = None,
    reverse: bool = False,
) -> tuple[Any, Any]:
    """One layer in one direction over a (L, N, H_in) sequence: (outputs (L, N, H), final
    state), the state being h (N, H), or (h, c) for LSTM. The input projections of every
    step are one matmul; the recurrence is a `tracer.scan`."""
    step = _step(mode)
    xw = F.linear(x, w_ih, b_ih)  # (L, N, gates * H)

    def body(carry: Any, xw_t: Any) -> tuple[Any, Any]:
        new = step(xw_t, carry, w_hh, b_hh)
        return new, new[0] if mode == "LSTM" else new

    return scan(body, state, xw, reverse=reverse)


class RNNBase(Module):
    """The parameters, initialisation and forward pass shared by RNN, LSTM and GRU."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        d = factory_dtype(device, dtype, name)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of "
                "an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        for what, v in (("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{what} must be a positive integer, got {v!r}")
        if proj_size:
            raise ValueError(f"{name}: proj_size is not supported by tracer (got {proj_size})")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate, width)), ("weight_hh", (gate, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                names = []
                for base, shape in shapes:
                    setattr(self, base + suffix, Parameter(creation.empty(*shape, dtype=d)))
                    names.append(base + suffix)
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in order."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch packs weights for cuDNN here)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _layer_weights(self, layer: int, direction: int) -> list[Any]:
        names = self._all_weights[layer * (2 if self.bidirectional else 1) + direction]
        weights = [getattr(self, n) for n in names]
        return weights if self.bias else weights + [None, None]

    def _check_state(self, h: Any, expected: tuple[int, ...], what: str) -> None:
        if not isinstance(h, Operand):
            raise TypeError(
                f"{type(self).__name__}: {what} must be a tensor, got {type(h).__name__}"
            )
        if tuple(h.shape) != expected:
            raise ShapeError(
                f"{type(self).__name__}: expected {what} size {expected}, got {tuple(h.shape)}"
            )

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        """input (L, N, H_in) ((N, L, H_in) with batch_first, (L, H_in) unbatched) and
        initial states (layers * directions, N, H) (zeros by default; LSTM: (h_0, c_0));
        returns (output (L, N, directions * H), final states of the same form)."""
        name = type(self).__name__
        if not isinstance(input, Operand):
            raise TypeError(f"{name}: input must be a tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead"
            )
        if input.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {input.shape[-1]}"
            )
        batched = input.ndim == 3
        lstm = self.mode == "LSTM"
        if not batched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if lstm else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        directions = 2 if self.bidirectional else 1
        n = input.shape[1]
        shape = (self.num_layers * directions, n, self.hidden_size)
        if hx is None:
            zeros = input.full_like(0, shape=shape)
            hx = (zeros, zeros) if lstm else zeros
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0)")
            self._check_state(hx[0], shape, "hidden")
            self._check_state(hx[1], shape, "cell")
        else:
            self._check_state(hx, shape, "hidden")
        x = input
        finals: list[Any] = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                state = (hx[0][k], hx[1][k]) if lstm else hx[k]
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(layer, direction)
                final, ys = recurrence(
                    self.mode, x, state, w_ih, w_hh, b_ih, b_hh, reverse=bool(direction)
                )
                finals.append(final)
                outs.append(ys)
            x = outs[0] if directions == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if lstm:
            h_n = (stack([f[0] for f in finals]), stack([f[1] for f in finals]))
        else:
            h_n = stack(finals)
        if not batched:
            x = x.squeeze(1)
            h_n = tuple(h.squeeze(1) for h in h_n) if lstm else h_n.squeeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, h_n


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) (nonlinearity
    'tanh' or 'relu'), stacked num_layers deep, optionally bidirectional."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = ["input_size", "hidden_size", "num_layers", "nonlinearity", "bias"]
        names += ["batch_first", "dropout", "bidirectional", "device", "dtype"]
        bound = dict(zip(names, args))
        if len(args) > len(names):
            raise TypeError(f"RNN takes at most {len(names)} positional arguments")
        overlap = set(bound) & set(kwargs)
        if overlap:
            raise TypeError(f"RNN got multiple values for argument(s) {sorted(overlap)}")
        bound.update(kwargs)
        nonlinearity = bound.pop("nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", **bound)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o = sigma, sigma, tanh, sigma of
    x_t W_ih^T + b_ih + h W_hh^T + b_hh (stacked in that order); c' = f c + i g,
    h' = o tanh(c'). forward(input, (h_0, c_0)) returns (output, (h_n, c_n))."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sigma(x W_i^T + b_i + h W_h^T + b_h) for each,
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """One step of a recurrent layer: weight_ih (gates * H, H_in), weight_hh
    (gates * H, H), bias_ih and bias_hh (gates * H), initialised as the layers."""

    _mode = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        num_chunks: int = 1,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        d = factory_dtype(device, dtype, type(self).__name__)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(gate, input_size, dtype=d))
        self.weight_hh = Parameter(creation.empty(gate, hidden_size, dtype=d))
        if bias:
            self.bias_ih = Parameter(creation.empty(gate, dtype=d))
            self.bias_hh = Parameter(creation.empty(gate, dtype=d))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _prepare(self, input: Any, hx: Any) -> tuple[Any, Any, bool]:
        name = type(self).__name__
        if not isinstance(input, Operand):
            raise TypeError(f"{name}: input must be a tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected "
                f"{self.input_size}"
            )
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        shape = (input.shape[0], self.hidden_size)
        if hx is None:
            zeros = input.full_like(0, shape=shape)
            return input, ((zeros, zeros) if self._mode == "LSTM" else zeros), batched
        states = hx if self._mode == "LSTM" else (hx,)
        if not batched:
            states = tuple(h.unsqueeze(0) for h in states)
        for h in states:
            if tuple(h.shape) != shape:
                raise ShapeError(f"{name}: expected hidden size {shape}, got {tuple(h.shape)}")
        return input, (states if self._mode == "LSTM" else states[0]), batched

    def forward(self, input: Any, hx: Any = None) -> Any:
        """input (N, H_in) or (H_in,), state (N, H) (LSTMCell: (h, c)), zeros by default;
        returns the new state."""
        x, state, batched = self._prepare(input, hx)
        xw = F.linear(x, self.weight_ih, self.bias_ih)
        new = _step(self._mode)(xw, state, self.weight_hh, self.bias_hh)
        if batched:
            return new
        return tuple(h.squeeze(0) for h in new) if self._mode == "LSTM" else new.squeeze(0)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)) returns (h', c')."""

    _mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, h) returns h'."""

    _mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)
