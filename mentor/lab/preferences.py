"""Preference pairs the course generates, their tokens, and a small supervised model to align.

The task is sorting: the prompt is a handful of distinct letters, the chosen response those letters
in alphabetical order, and the rejected response a near miss (two letters swapped, one dropped, one
doubled, or the prompt echoed back). `is_correct` checks any response against the rule, so whether
a model prefers the better answer can always be measured.

A sequence is `<bos> prompt = response <eos>`, one token per character. Its labels have the same
length as its ids: the id itself at the response's tokens and at `<eos>`, `IGNORE` (-100) at
`<bos>`, the prompt, `=` and padding. The logits at position t predict token t + 1, so the label at
position t is scored by the logits at position t - 1 (shift before comparing).

`sft_model()` is the starting point of alignment: the course's GPT trained for a few hundred seeded
steps of next-token prediction on chosen responses only, kept once per process and handed out as a
fresh copy each call.

    from mentor.lab.preferences import CharTokenizer, collate, make_pairs, sft_model
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, replace

import torch

from mentor.lab.gpt import GPT, GPTConfig

LETTERS = "abcdefgh"
SEPARATOR = "="
SPECIALS = ("<pad>", "<bos>", "<eos>")
IGNORE = -100  # the label of a position that is not scored, as F.cross_entropy's ignore_index
MIN_LETTERS, MAX_LETTERS = 3, 6
REJECTIONS = ("swap", "drop", "double", "echo")  # the kinds of near miss, drawn in turn


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    kind: str  # which near miss the rejected response is, one of REJECTIONS


def is_correct(prompt: str, response: str) -> bool:
    """The rule that makes a chosen response better: the prompt's letters, each once, in order."""
    return response == "".join(sorted(prompt))


def _near_miss(answer: str, prompt: str, kind: str, rng: random.Random) -> str:
    if kind == "swap":  # two neighbours exchanged: the letters right, the order not
        i = rng.randrange(len(answer) - 1)
        return answer[:i] + answer[i + 1] + answer[i] + answer[i + 2 :]
    if kind == "drop":  # one letter missing: shorter than the chosen response
        i = rng.randrange(len(answer))
        return answer[:i] + answer[i + 1 :]
    if kind == "double":  # one letter twice: longer than the chosen response
        i = rng.randrange(len(answer))
        return answer[: i + 1] + answer[i:]
    return prompt  # echo: the prompt copied unsorted


def make_pairs(n: int, seed: int = 0) -> list[PreferencePair]:
    """`n` pairs, the same for the same seed: prompts of MIN_LETTERS..MAX_LETTERS distinct letters."""
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        kind = REJECTIONS[len(pairs) % len(REJECTIONS)]
        prompt = "".join(rng.sample(LETTERS, rng.randint(MIN_LETTERS, MAX_LETTERS)))
        answer = "".join(sorted(prompt))
        if kind == "echo" and prompt == answer:
            continue  # an already sorted prompt echoed would be the right answer
        pairs.append(PreferencePair(prompt, answer, _near_miss(answer, prompt, kind, rng), kind))
    return pairs


class CharTokenizer:
    """One id per special token, letter and the separator: `<pad>` 0, `<bos>` 1, `<eos>` 2, then the rest."""

    def __init__(self):
        self.tokens = [*SPECIALS, *LETTERS, SEPARATOR]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id = (self.ids[t] for t in SPECIALS)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        return [self.ids[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.tokens[int(i)] for i in ids)

    def example(self, prompt: str, response: str) -> tuple[list[int], list[int]]:
        """ids and labels of `<bos> prompt = response <eos>`: labels IGNORE up to and including `=`."""
        head = [self.bos_id, *self.encode(prompt), self.ids[SEPARATOR]]
        tail = [*self.encode(response), self.eos_id]
        return head + tail, [IGNORE] * len(head) + tail


@dataclass
class PreferenceBatch:
    """Preference pairs as four (B, T) long tensors, right-padded to one common length T."""

    chosen_ids: torch.Tensor
    chosen_labels: torch.Tensor
    rejected_ids: torch.Tensor
    rejected_labels: torch.Tensor

    def __len__(self) -> int:
        return self.chosen_ids.shape[0]


def _padded(rows: list[list[int]], length: int, fill: int) -> torch.Tensor:
    return torch.tensor([row + [fill] * (length - len(row)) for row in rows], dtype=torch.long)


def collate(pairs: list[PreferencePair], tokenizer: CharTokenizer | None = None) -> PreferenceBatch:
    """The pairs tokenized, padded with `<pad>` (labels IGNORE) to the longest of all 2·B sequences."""
    tokenizer = tokenizer or CharTokenizer()
    chosen = [tokenizer.example(p.prompt, p.chosen) for p in pairs]
    rejected = [tokenizer.example(p.prompt, p.rejected) for p in pairs]
    T = max(len(ids) for ids, _ in chosen + rejected)
    return PreferenceBatch(
        _padded([ids for ids, _ in chosen], T, tokenizer.pad_id),
        _padded([labels for _, labels in chosen], T, IGNORE),
        _padded([ids for ids, _ in rejected], T, tokenizer.pad_id),
        _padded([labels for _, labels in rejected], T, IGNORE),
    )


# -- the supervised starting point ----------------------------------------------------------------
# 2 layers, d_model 32: ~27k parameters. 80 steps of 32 sequences take about a second on one core.
SFT_CONFIG = GPTConfig(vocab_size=len(SPECIALS) + len(LETTERS) + 1, block_size=16, d_model=32, n_layers=2, n_heads=2)
SFT_STEPS, SFT_BATCH, SFT_LR, SFT_SEED = 80, 32, 3e-3, 1234
_trained: dict[int, dict[str, torch.Tensor]] = {}  # seed -> weights, once per process


def _train_sft(seed: int) -> dict[str, torch.Tensor]:
    tokenizer = CharTokenizer()
    examples = [tokenizer.example(p.prompt, p.chosen) for p in make_pairs(SFT_STEPS * 4, seed=seed)]
    T = max(len(ids) for ids, _ in examples)
    ids = _padded([i for i, _ in examples], T, tokenizer.pad_id)
    labels = _padded([lab for _, lab in examples], T, IGNORE)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and the same bits on every machine
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = GPT(SFT_CONFIG)
            opt = torch.optim.AdamW(model.parameters(), lr=SFT_LR, weight_decay=0.0)
            order = torch.randint(0, len(examples), (SFT_STEPS, SFT_BATCH), generator=torch.Generator().manual_seed(seed))
            for rows in order:
                x, y = ids[rows], labels[rows]
                _, loss = model(x[:, :-1], y[:, 1:])  # logits at t score the token at t + 1
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def sft_model(dropout: float = 0.0, seed: int = SFT_SEED) -> GPT:
    """A fresh copy of the supervised model (trained once per process and seed), in train mode,
    float32, with `dropout` on its attention and residual branches."""
    if seed not in _trained:
        _trained[seed] = _train_sft(seed)
    with torch.random.fork_rng():
        model = GPT(replace(SFT_CONFIG, dropout=dropout))
    model.load_state_dict(copy.deepcopy(_trained[seed]))
    return model
