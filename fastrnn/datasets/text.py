"""Text to id sequences for language models (the book's ``preprocess`` / ``ptb.load_data`` idea)."""
import numpy as np

__all__ = ["text_to_ids", "load_text"]


def text_to_ids(text, level="word", lower=False, eos=None):
    """Text -> ``corpus, word_to_id, id_to_word``; ids assigned by first appearance.

    ``level='word'``: tokens are whitespace-separated words (with ``eos='<eos>'``, every line end
    becomes that token, as the book's PTB loader does); ``level='char'``: every character is a
    token, newlines included. ``corpus`` is an int32 array (number of tokens,).
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    if level not in ("word", "char"):
        raise ValueError(f"level: expected 'word' or 'char', got {level!r}")
    if lower:
        text = text.lower()
    if level == "char":
        tokens = list(text)
    else:
        if eos is not None:
            text = text.replace("\n", f" {eos} ")
        tokens = text.split()
    word_to_id = {}
    for token in tokens:
        if token not in word_to_id:
            word_to_id[token] = len(word_to_id)
    id_to_word = {i: w for w, i in word_to_id.items()}
    corpus = np.fromiter((word_to_id[w] for w in tokens), dtype=np.int32, count=len(tokens))
    return corpus, word_to_id, id_to_word


def load_text(path, level="word", lower=False, eos=None, encoding="utf-8"):
    """Read a text file and return :func:`text_to_ids` of its content."""
    with open(path, encoding=encoding) as f:
        text = f.read()
    return text_to_ids(text, level=level, lower=lower, eos=eos)
