"""Gradient mode: ``fastrnn.no_grad()`` turns every forward into a forward-only call.

Inside ``with fastrnn.no_grad():`` (or a function decorated with ``@fastrnn.no_grad()``)
the forwards of ``fastrnn.nn``, ``fastrnn.layers`` and ``fastrnn.models`` save nothing for a
backward: the recurrent layers run the forward-only kernels (no per-step gates kept, the
input projection done a chunk of steps at a time), the other layers keep no inputs. A
backward after such a forward raises :class:`RuntimeError`. The mode is per thread, as in
torch, and ``fastrnn.enable_grad()`` turns saving back on inside a ``no_grad`` block.
On a generator function the decorator covers the generator's body each time it runs
(``next``, ``send``, ``throw``, ``close``), and the caller's mode is back between
resumptions, as with torch's decorator.

    >>> import numpy as np, fastrnn
    >>> lstm = fastrnn.LSTM(4, 8, seed=0)
    >>> with fastrnn.no_grad():
    ...     out, (h, c) = lstm(np.zeros((3, 2, 4), np.float32))
    >>> fastrnn.is_grad_enabled()
    True
"""
import contextlib
import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "is_grad_enabled"]

class _State(threading.local):
    enabled = True          # each thread starts with saving on


_state = _State()


def is_grad_enabled():
    """True unless the calling thread is inside ``no_grad()`` (and not in an ``enable_grad()``)."""
    return _state.enabled


class _GradMode(contextlib.ContextDecorator):
    enabled = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _state.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous
        return False

    def _recreate_cm(self):          # each use (decorated calls too) keeps its own previous mode
        return type(self)()

    def __call__(self, func):
        """Decorate ``func``; a generator function gets the mode around each of its resumptions
        (torch's rule), not only around the call that creates the generator object."""
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(type(self), func)
        return super().__call__(func)


def _wrap_generator(mode, func):
    """``func`` (a generator function) with ``mode()`` entered each time its body runs: at each
    ``next``/``send``/``throw``/``close``, the caller's mode restored whenever it yields."""
    @functools.wraps(func)
    def generator(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            with mode():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with mode():
                        gen.close()
                    raise
                except BaseException as exc:
                    with mode():
                        response = gen.throw(exc)
                else:
                    with mode():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value
    return generator


class no_grad(_GradMode):
    """Context manager and decorator: forwards inside it save nothing for a backward."""
    enabled = False


class enable_grad(_GradMode):
    """Context manager and decorator: saving for backward on again (inside ``no_grad``)."""
    enabled = True


class _NotSaved:
    """What a forward under ``no_grad`` leaves where it would have saved its context."""
    __slots__ = ()

    def __repr__(self):
        return "<not saved: forward ran under fastrnn.no_grad()>"


NOT_SAVED = _NotSaved()


def not_saved_error(owner):
    """The RuntimeError of a backward after a forward that ran under ``no_grad``."""
    return RuntimeError(f"{owner}.backward(): the last forward ran under fastrnn.no_grad(), which saves nothing "
                        "for a backward; run the forward again outside no_grad() (or inside "
                        "fastrnn.enable_grad()) to compute gradients")


def saved(owner, value):
    """``value`` (a forward's saved context) unless the forward ran under ``no_grad``."""
    if value is NOT_SAVED:
        raise not_saved_error(owner)
    return value
