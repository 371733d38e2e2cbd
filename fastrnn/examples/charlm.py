"""Character-level LSTM language model on a built-in text, then text generation (book ch06-07)."""
from . import _common

# An original passage (written for fastrnn, public domain), so no download is needed.
TEXT = """\
The lighthouse keeper woke before the sun, as he always did, and climbed the hundred steps to the lamp.
The sea was grey and calm, and the gulls were already crying over the rocks below the tower.
He cleaned the glass, trimmed the wick, and wrote the weather in the book on the table by the window:
wind from the west, light; sky clear; sea calm; one ship to the north, sailing slowly toward the harbour.
In the afternoon he walked along the shore and gathered wood that the tide had left on the sand.
He liked the quiet of the island, the sound of the water, and the long light of the summer evenings.
When the wind turned to the north the sea grew rough, and the waves broke white against the rocks.
Then he stayed in the tower, and he watched the lamp, and he listened to the storm outside the window.
The ships that passed in the night saw the light, and they kept away from the rocks, and they came home.
In the morning the storm was over, the sky was clear again, and the sea was grey and calm.
The keeper climbed the hundred steps, cleaned the glass, and wrote the weather in the book once more:
wind from the north, strong, then light; sky clear; sea rough, then calm; no ships in the night.
He made his tea, he sat by the window, and he watched the gulls over the water until the sun was high.
"""


def main(argv=None):
    p = _common.parser(__doc__, epochs=60, name="charlm",
                       duration="under 10 s on one core")
    p.add_argument("--batch-size", type=int, default=10, help="sequences per batch")
    p.add_argument("--time-size", type=int, default=35, help="time steps per batch (truncated BPTT)")
    p.add_argument("--wordvec", type=int, default=32, help="embedding size")
    p.add_argument("--hidden", type=int, default=128, help="hidden size of the recurrent layer")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate")
    p.add_argument("--sample-size", type=int, default=300, help="characters to generate")
    p.add_argument("--text", metavar="PATH", help="train on this text file instead of the built-in passage")
    args = p.parse_args(argv)

    from ..datasets import text_to_ids, load_text
    from ..models import RnnlmGen
    from ..optim import Adam
    from ..train import RnnlmTrainer, eval_perplexity

    corpus, char_to_id, id_to_char = (load_text(args.text, level="char") if args.text
                                      else text_to_ids(TEXT, level="char"))
    if args.quick:
        args.hidden, args.epochs, args.sample_size = 32, min(args.epochs, 2), 60
    split = len(corpus) - len(corpus) // 10
    train, test = corpus[:split], corpus[split:]
    V = len(char_to_id)
    model = RnnlmGen(V, args.wordvec, args.hidden, seed=args.seed)
    print(f"charlm: {len(train)} training / {len(test)} test characters, vocabulary {V}, "
          f"RnnlmGen({V}, {args.wordvec}, {args.hidden})")
    trainer = RnnlmTrainer(model, Adam(lr=args.lr), progress=not args.no_progress)
    with _common.thread_limit(args.threads):
        trainer.fit(train[:-1], train[1:], max_epoch=args.epochs, batch_size=args.batch_size,
                    time_size=args.time_size, max_grad=0.25, eval_interval=20)
        print(f"training perplexity (last epoch): {_common.exp(trainer.epoch_losses[-1]):.2f}")
        model.reset_state()
        ppl = eval_perplexity(model, test, batch_size=1, time_size=min(35, len(test) - 1),
                              progress=not args.no_progress)
        model.reset_state()
        start = char_to_id["T"] if "T" in char_to_id else 0
        ids = model.generate(start, sample_size=args.sample_size, seed=args.seed)
    print("generated:")
    print("".join(id_to_char[i] for i in ids))
    print(f"test perplexity: {ppl:.2f}")
    return ppl


if __name__ == "__main__":
    main()
