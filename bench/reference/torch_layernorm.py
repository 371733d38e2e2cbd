"""The per-step torch loop a CPU user writes today for a layer-normalised LSTM / GRU.

torch has no layer-normalised recurrent layer (pytorch issues 12167, 7032), so the usual
code loops over time with linear products, ``torch.nn.functional.layer_norm``, pointwise
ops and autograd. These modules are that loop, one layer and one direction, with the
parameter names of ``fastrnn.torch.LayerNormLSTM`` / ``LayerNormGRU`` (``load_state_dict``
from one to the other): the reference of tests/test_layernorm_modules.py and the peer of
bench/layernorm.py. ``keep``: zoneout's keep weights, a (T, N, H) tensor or a number.
"""
import torch
import torch.nn.functional as F


class _StepLoop(torch.nn.Module):
    gates = 0
    names = ()

    def __init__(self, input_size, hidden_size, bias=True, dtype=torch.float32):
        super().__init__()
        H, G = hidden_size, self.gates * hidden_size
        self.hidden_size = H
        shapes = {"weight_ih_l0": (G, input_size), "weight_hh_l0": (G, H), "bias_l0": (G,), "bias_ih_l0": (G,),
                  "bias_hh_l0": (G,), "ln_weight_ih_l0": (G,), "ln_weight_hh_l0": (G,), "ln_weight_c_l0": (H,),
                  "ln_bias_c_l0": (H,)}
        for name in self.names:
            if name.startswith("bias") and not bias:
                setattr(self, name, None)
                continue
            value = torch.ones(shapes[name], dtype=dtype) if name.startswith("ln_weight") else \
                torch.zeros(shapes[name], dtype=dtype)
            self.register_parameter(name, torch.nn.Parameter(value))

    @staticmethod
    def _zoneout(keep, t, h_prev, h_new):
        if keep is None:
            return h_new
        k = keep[t] if isinstance(keep, torch.Tensor) else keep
        return k * h_prev + (1 - k) * h_new


class StepLayerNormLSTM(_StepLoop):
    """a = LN(x W_ihᵀ) + LN(h W_hhᵀ) + b; c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(LN(c'))."""
    gates = 4
    names = ("weight_ih_l0", "weight_hh_l0", "bias_l0", "ln_weight_ih_l0", "ln_weight_hh_l0", "ln_weight_c_l0",
             "ln_bias_c_l0")

    def forward(self, x, hx=None, keep=None):
        """x (T, N, I), hx (h0, c0) each (N, H) or None -> out (T, N, H), (h_n, c_n)."""
        T, N, H = x.shape[0], x.shape[1], self.hidden_size
        h, c = hx if hx is not None else (x.new_zeros(N, H), x.new_zeros(N, H))
        G = 4 * H
        outs = []
        for t in range(T):
            a = (F.layer_norm(F.linear(x[t], self.weight_ih_l0), (G,), self.ln_weight_ih_l0)
                 + F.layer_norm(F.linear(h, self.weight_hh_l0), (G,), self.ln_weight_hh_l0))
            if self.bias_l0 is not None:
                a = a + self.bias_l0
            i, f, g, o = a.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(F.layer_norm(c, (H,), self.ln_weight_c_l0, self.ln_bias_c_l0))
            h = self._zoneout(keep, t, h, h_new)
            outs.append(h)
        return torch.stack(outs), (h, c)


class StepLayerNormGRU(_StepLoop):
    """gx = LN(x W_ihᵀ) + b_ih, gh = LN(h W_hhᵀ) + b_hh; r, z = σ(gx + gh); n = tanh(gx_n + r gh_n);
    h' = (1 − z) n + z h."""
    gates = 3
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "ln_weight_ih_l0", "ln_weight_hh_l0")

    def forward(self, x, hx=None, keep=None):
        """x (T, N, I), hx (N, H) or None -> out (T, N, H), h_n."""
        T, N, H = x.shape[0], x.shape[1], self.hidden_size
        h = hx if hx is not None else x.new_zeros(N, H)
        G = 3 * H
        outs = []
        for t in range(T):
            gx = F.layer_norm(F.linear(x[t], self.weight_ih_l0), (G,), self.ln_weight_ih_l0)
            gh = F.layer_norm(F.linear(h, self.weight_hh_l0), (G,), self.ln_weight_hh_l0)
            if self.bias_ih_l0 is not None:
                gx, gh = gx + self.bias_ih_l0, gh + self.bias_hh_l0
            x_r, x_z, x_n = gx.chunk(3, 1)
            h_r, h_z, h_n = gh.chunk(3, 1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            h = self._zoneout(keep, t, h, (1 - z) * n + z * h)
            outs.append(h)
        return torch.stack(outs), h
