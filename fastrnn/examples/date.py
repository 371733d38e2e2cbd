"""Attention seq2seq turning dates in many formats into YYYY-MM-DD (book ch08)."""
from . import _common


def main(argv=None):
    p = _common.parser(__doc__, epochs=3, name="date",
                       duration="about a minute on one core (3 epochs of about 20 s)")
    p.add_argument("--batch-size", type=int, default=128, help="sequences per batch")
    p.add_argument("--wordvec", type=int, default=16, help="embedding size")
    p.add_argument("--hidden", type=int, default=256, help="hidden size of the recurrent layer")
    p.add_argument("--no-reverse", action="store_true", help="feed the question unreversed")
    args = p.parse_args(argv)

    from ..datasets import load_sequence
    from ..models import AttentionSeq2seq

    data = load_sequence("date", size=1200 if args.quick else 50000)
    if args.quick:
        args.hidden, args.epochs = 32, min(args.epochs, 1)
    (x_train, t_train), (x_test, t_test), (char_to_id, id_to_char) = data
    if not args.no_reverse:
        x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
    data = (x_train, t_train), (x_test, t_test), (char_to_id, id_to_char)
    model = AttentionSeq2seq(len(char_to_id), args.wordvec, args.hidden, seed=args.seed)
    print(f"date: {len(x_train)} train / {len(x_test)} test, vocabulary {len(char_to_id)}, "
          f"AttentionSeq2seq({len(char_to_id)}, {args.wordvec}, {args.hidden})")
    with _common.thread_limit(args.threads):
        return _common.train_seq2seq(model, data, args, is_reverse=not args.no_reverse)


if __name__ == "__main__":
    main()
