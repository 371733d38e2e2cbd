"""Merge tied and shared weights before clipping and the update (the book's ``remove_duplicate``).

Sharing is found from the arrays themselves, never from their values: the same object, another
view with the same memory and layout, or the transposed view (weight tying, ``embed_W.T``).
"""
__all__ = ["merge_shared"]


def _relation(a, b):
    """'same', 'transposed' or None: how ``b`` aliases ``a``."""
    if a is b:
        return "same"
    if a.dtype != b.dtype or a.__array_interface__["data"][0] != b.__array_interface__["data"][0]:
        return None
    if a.shape == b.shape and a.strides == b.strides:
        return "same"
    if a.ndim == 2 and b.shape == a.shape[::-1] and b.strides == a.strides[::-1]:
        return "transposed"
    return None


def merge_shared(params, grads):
    """-> new lists ``(params, grads)`` with every alias of an earlier parameter removed.

    An alias's gradient is added into the kept parameter's gradient in place (transposed for a
    transposed view), as the book's ``remove_duplicate`` does; the input lists are not changed.
    """
    kept_p, kept_g = [], []
    for p, g in zip(params, grads):
        for q, h in zip(kept_p, kept_g):
            rel = _relation(q, p)
            if rel == "same":
                h += g
                break
            if rel == "transposed":
                h += g.T
                break
        else:
            kept_p.append(p)
            kept_g.append(g)
    return kept_p, kept_g
