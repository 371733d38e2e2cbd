"""Data for the examples: seq2seq tasks in the book's format, a noisy sine wave, text to ids.

    >>> from fastrnn.datasets import load_sequence
    >>> (x_train, t_train), (x_test, t_test), (char_to_id, id_to_char) = load_sequence('addition')
    >>> x_train.shape, t_train.shape, x_test.shape
    ((45000, 7), (45000, 5), (5000, 7))
"""
from .sequence import load_sequence, sequence_arrays
from .addition import addition_lines
from .date import date_lines
from .sine import sine_wave
from .text import text_to_ids, load_text

__all__ = ["load_sequence", "sequence_arrays", "addition_lines", "date_lines", "sine_wave",
           "text_to_ids", "load_text"]
