"""The book's ``clip_grads`` on top of :func:`fastrnn.clip.clip_grad_norm_` (one formula, one place)."""
from ..clip import clip_grad_norm_

__all__ = ["clip_grads"]


def clip_grads(grads, max_norm):
    """Scale the arrays in ``grads`` in place so their joint L2 norm is at most about ``max_norm``.

    The book's formula: ``total_norm = sqrt(sum of all squares)``, ``rate = max_norm / (total_norm + 1e-6)``,
    every grad multiplied by ``rate`` when ``rate < 1``. Returns None (the book's signature);
    use :func:`fastrnn.optim.clip_grad_norm_` to get the norm back.
    """
    clip_grad_norm_(grads, max_norm)
