"""The NumPy baseline: a per-step Python loop of NumPy ops, structured like the book's
``TimeRNN`` / ``TimeLSTM`` / ``TimeGRU`` (a step layer object per time step, caches kept
on it, gradients summed over time), but in PyTorch's layout so its numbers compare
with ``fastrnn.nn`` and ``torch.nn`` on the same weights.

Weights: ``w_ih (G*H, I)``, ``w_hh (G*H, H)``, ``b_ih, b_hh (G*H,)``; gate blocks LSTM
``i, f, g, o``, GRU ``r, z, n`` with the reset applied after the recurrent matmul
(PyTorch's default); RNN tanh. Sequences time-major: ``x (T, N, I)``, ``out (T, N, H)``.
This is what a careful NumPy user writes; it is the speed fastrnn is measured against.
"""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class LSTMStep:
    """One LSTM step (the book's ``LSTM`` layer, PyTorch layout and gate order)."""

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.params = [w_ih, w_hh, b_ih, b_hh]
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        w_ih, w_hh, b_ih, b_hh = self.params
        H = h_prev.shape[1]
        A = x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh
        i = sigmoid(A[:, :H])
        f = sigmoid(A[:, H:2 * H])
        g = np.tanh(A[:, 2 * H:3 * H])
        o = sigmoid(A[:, 3 * H:])
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        """-> dx, dh_prev, dc_prev, (dw_ih, dw_hh, db)."""
        w_ih, w_hh, _, _ = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        tanh_c_next = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next ** 2)
        dc_prev = ds * f
        di = ds * g * i * (1 - i)
        df = ds * c_prev * f * (1 - f)
        dg = ds * i * (1 - g ** 2)
        do = dh_next * tanh_c_next * o * (1 - o)
        dA = np.hstack((di, df, dg, do))
        grads = (dA.T @ x, dA.T @ h_prev, dA.sum(axis=0))
        return dA @ w_ih, dA @ w_hh, dc_prev, grads


class GRUStep:
    """One GRU step, PyTorch form: ``n = tanh(x W_inᵀ + b_in + r⊙(h W_hnᵀ + b_hn))``,
    ``h' = (1−z)⊙n + z⊙h``."""

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.params = [w_ih, w_hh, b_ih, b_hh]
        self.cache = None

    def forward(self, x, h_prev):
        w_ih, w_hh, b_ih, b_hh = self.params
        H = h_prev.shape[1]
        gx = x @ w_ih.T + b_ih
        gh = h_prev @ w_hh.T + b_hh
        r = sigmoid(gx[:, :H] + gh[:, :H])
        z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        hn = gh[:, 2 * H:]
        n = np.tanh(gx[:, 2 * H:] + r * hn)
        h_next = (1 - z) * n + z * h_prev
        self.cache = (x, h_prev, r, z, n, hn)
        return h_next

    def backward(self, dh_next):
        """-> dx, dh_prev, (dw_ih, dw_hh, db_ih, db_hh)."""
        w_ih, w_hh, _, _ = self.params
        x, h_prev, r, z, n, hn = self.cache
        dan = dh_next * (1 - z) * (1 - n ** 2)
        daz = dh_next * (h_prev - n) * z * (1 - z)
        dar = dan * hn * r * (1 - r)
        dgx = np.hstack((dar, daz, dan))
        dgh = np.hstack((dar, daz, dan * r))
        dh_prev = dh_next * z + dgh @ w_hh
        grads = (dgx.T @ x, dgh.T @ h_prev, dgx.sum(axis=0), dgh.sum(axis=0))
        return dgx @ w_ih, dh_prev, grads


class RNNStep:
    """One tanh RNN step: ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``."""

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.params = [w_ih, w_hh, b_ih, b_hh]
        self.cache = None

    def forward(self, x, h_prev):
        w_ih, w_hh, b_ih, b_hh = self.params
        h_next = np.tanh(x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        """-> dx, dh_prev, (dw_ih, dw_hh, db)."""
        w_ih, w_hh, _, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)
        grads = (dt.T @ x, dt.T @ h_prev, dt.sum(axis=0))
        return dt @ w_ih, dt @ w_hh, grads


class _TimeLayer:
    """Shared book-style bookkeeping: ``params`` / ``grads`` lists, one step object per t."""

    step_class = None
    has_c = False

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.params = [w_ih, w_hh, b_ih, b_hh]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.layers = None

    def _sum_grads(self, grads, step_grads):
        if len(step_grads) == 3:                       # one combined bias gradient
            step_grads = step_grads + (step_grads[2],)
        for k, g in enumerate(step_grads):
            grads[k] += g

    def _store(self, grads):
        for k, g in enumerate(grads):
            self.grads[k][...] = g


class TimeLSTM(_TimeLayer):
    """``forward(x (T,N,I), h0, c0) -> out (T,N,H), h_n, c_n``;
    ``backward(dout, dh_n=None, dc_n=None) -> dx, dh0, dc0`` (weight grads into ``grads``)."""

    def forward(self, xs, h0, c0):
        T = xs.shape[0]
        h, c = h0, c0
        hs = np.empty((T,) + h0.shape, dtype=h0.dtype)
        self.layers = []
        for t in range(T):
            layer = LSTMStep(*self.params)
            h, c = layer.forward(xs[t], h, c)
            hs[t] = h
            self.layers.append(layer)
        return hs, h, c

    def backward(self, dhs, dh_n=None, dc_n=None):
        T = dhs.shape[0]
        dxs = np.empty((T,) + self.layers[0].cache[0].shape, dtype=dhs.dtype)
        dh = 0 if dh_n is None else dh_n
        dc = 0 if dc_n is None else dc_n
        grads = [0, 0, 0, 0]
        for t in reversed(range(T)):
            dxs[t], dh, dc, step_grads = self.layers[t].backward(dhs[t] + dh, dc)
            self._sum_grads(grads, step_grads)
        self._store(grads)
        return dxs, dh, dc


class _TimeOneState(_TimeLayer):
    def forward(self, xs, h0):
        T = xs.shape[0]
        h = h0
        hs = np.empty((T,) + h0.shape, dtype=h0.dtype)
        self.layers = []
        for t in range(T):
            layer = self.step_class(*self.params)
            h = layer.forward(xs[t], h)
            hs[t] = h
            self.layers.append(layer)
        return hs, h

    def backward(self, dhs, dh_n=None):
        T = dhs.shape[0]
        dxs = np.empty((T,) + self.layers[0].cache[0].shape, dtype=dhs.dtype)
        dh = 0 if dh_n is None else dh_n
        grads = [0, 0, 0, 0]
        for t in reversed(range(T)):
            dxs[t], dh, step_grads = self.layers[t].backward(dhs[t] + dh)
            self._sum_grads(grads, step_grads)
        self._store(grads)
        return dxs, dh


class TimeGRU(_TimeOneState):
    """``forward(x, h0) -> out, h_n``; ``backward(dout, dh_n=None) -> dx, dh0``."""
    step_class = GRUStep


class TimeRNN(_TimeOneState):
    """``forward(x, h0) -> out, h_n``; ``backward(dout, dh_n=None) -> dx, dh0``."""
    step_class = RNNStep


TIME_LAYERS = {"lstm": TimeLSTM, "gru": TimeGRU, "rnn": TimeRNN}
