"""Instructions with checkable answers, the character tokenizer of the chat template, and a scorer.

The supervised fine-tuning lesson trains the course's GPT on pairs the course generates itself, so
everything runs offline and every answer can be checked exactly:

    first: cabbe   ->  c        length: fadeca  ->  6        max: badcab  ->  d
    count a: abaca ->  3        reverse: fed    ->  def      add: 17+5    ->  22

`instruction_split(n_train, n_heldout, seed)` draws both sets from one seeded generator with no prompt
in both (a held-out prompt seen in training would measure memory, not skill). `TOKENIZER` maps each
printable ASCII character to an id of its own and keeps four ids for the template's special tokens,
which ordinary text never produces: `encode("<|end|>")` is seven characters, not the end marker.
`exact_match` scores a greedy decoder on held-out pairs.

    from mentor.lab.tasks import TOKENIZER, Pair, exact_match, instruction_split
"""

from __future__ import annotations

import itertools
import random
from typing import Callable, Iterable, NamedTuple, Sequence

PAD, USER, ASSISTANT, END = "<|pad|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIALS = (PAD, USER, ASSISTANT, END)  # ids 0..3
CHARACTERS = "".join(chr(c) for c in range(32, 127))  # printable ASCII, ids 4..98
LETTERS = "abcdef"  # a small alphabet: the prompts repeat letters, the tasks stay learnable
TASKS = ("first", "length", "max", "count", "reverse", "sort", "add")
# The tasks a 2-layer GPT of d_model 64 learns from scratch in a few hundred steps on a CPU (exact match
# about 0.9 after 300 steps of 16 examples); the others need a larger model or a longer run.
QUICK_TASKS = ("first", "length", "max")


class Pair(NamedTuple):
    """One instruction and the response that answers it exactly."""

    prompt: str
    response: str


class ChatTokenizer:
    """Characters to ids, one id per printable ASCII character, and four special tokens.

    `encode(text)` never produces a special id: the text "<|user|>" is eight characters. Only
    `encode(text, allow_special=True)` reads the special tokens' spellings as the tokens themselves,
    for text the program wrote itself; never use it on what a user typed.
    """

    def __init__(self):
        self.specials = SPECIALS
        self.pad_id, self.user_id, self.assistant_id, self.end_id = range(len(SPECIALS))
        self._ids = {ch: len(SPECIALS) + i for i, ch in enumerate(CHARACTERS)}
        self._tokens = list(SPECIALS) + list(CHARACTERS)
        self.vocab_size = len(self._tokens)

    def encode(self, text: str, allow_special: bool = False) -> list[int]:
        """The ids of `text`, one per character; ValueError names a character outside printable ASCII."""
        ids, i = [], 0
        while i < len(text):
            special = next((s for s in SPECIALS if text.startswith(s, i)), None) if allow_special else None
            if special is not None:
                ids.append(SPECIALS.index(special))
                i += len(special)
                continue
            ch = text[i]
            if ch not in self._ids:
                raise ValueError(f"character {ch!r} at index {i} is not printable ASCII: the tokenizer has no id for it")
            ids.append(self._ids[ch])
            i += 1
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; a special id is written as its token, "<|end|>" and so on."""
        return "".join(self._tokens[int(i)] for i in ids)


TOKENIZER = ChatTokenizer()


# -- the tasks ----------------------------------------------------------------------------------
def _word(rng: random.Random, shortest: int, longest: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(shortest, longest)))


def make_pair(task: str, rng: random.Random) -> Pair:
    """One random instruction of `task` (one of TASKS) and its exact answer."""
    if task == "first":  # the word's first letter
        word = _word(rng, 3, 7)
        return Pair(f"first: {word}", word[0])
    if task == "length":  # how many letters
        word = _word(rng, 1, 12)
        return Pair(f"length: {word}", str(len(word)))
    if task == "max":  # the letter latest in the alphabet
        word = _word(rng, 3, 6)
        return Pair(f"max: {word}", max(word))
    if task == "count":  # how often a letter occurs
        letter, word = rng.choice(LETTERS), _word(rng, 3, 6)
        return Pair(f"count {letter}: {word}", str(word.count(letter)))
    if task == "reverse":
        word = _word(rng, 2, 4)
        return Pair(f"reverse: {word}", word[::-1])
    if task == "sort":
        word = _word(rng, 2, 5)
        return Pair(f"sort: {word}", "".join(sorted(word)))
    if task == "add":
        a, b = rng.randint(0, 19), rng.randint(0, 19)
        return Pair(f"add: {a}+{b}", str(a + b))
    raise ValueError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")


def instruction_split(
    n_train: int, n_heldout: int, seed: int, tasks: Sequence[str] = TASKS
) -> tuple[list[Pair], list[Pair]]:
    """`n_train` training pairs and `n_heldout` held-out pairs, the tasks taken in turn, no prompt twice.

    Both lists come from one `random.Random(seed)`, so the same seed gives the same sets, and no
    held-out prompt occurs among the training prompts.
    """
    rng, seen, pairs = random.Random(seed), set(), []
    wanted = n_train + n_heldout
    for attempt in itertools.count():
        if len(pairs) == wanted:
            break
        if attempt > 100 * wanted + 1000:
            raise ValueError(f"cannot draw {wanted} different prompts from the tasks {list(tasks)}")
        pair = make_pair(tasks[len(pairs) % len(tasks)], rng)
        if pair.prompt not in seen:
            seen.add(pair.prompt)
            pairs.append(pair)
    return pairs[n_heldout:], pairs[:n_heldout]


def is_correct(pair: Pair, reply: str) -> bool:
    """A reply is right when it is the response exactly: no extra characters, no missing ones."""
    return reply == pair.response


def exact_match(model, pairs: Sequence[Pair], respond: Callable[..., str], max_new_tokens: int = 16) -> float:
    """The fraction of `pairs` whose reply, `respond(model, prompt, max_new_tokens)`, is exactly the response.

    `respond` is a greedy decoder: the prompt in the chat template, then the most likely token
    until the end marker.
    """
    if not pairs:
        raise ValueError("exact_match needs at least one pair")
    return sum(is_correct(p, respond(model, p.prompt, max_new_tokens)) for p in pairs) / len(pairs)

