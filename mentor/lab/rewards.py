"""The task the reinforcement-learning steps train on: prompts the course generates, a character
tokenizer with special tokens, a reward computed by rules from a completion's tokens, and a starting
policy that already does the task a little.

The task: a prompt `<bos>c=` names a letter, and a good completion repeats that letter and stops,
`ccc<eos>`. `letter_reward` gives partial credit, so that the completions of one prompt earn
different rewards and a group of them says which were better:

    0.25   the completion ended: an <eos> within max_new_tokens
  + 0.75 · the share of its letters (the tokens before <eos>) that are the prompt's letter

The starting policy is a tiny GPT trained for a few hundred supervised steps on completions where the
right letter is the choice two times in five, so its mean reward is about a half and a short RL run can
raise it. It is trained seeded, on one thread and without touching the global random state, once per
machine (its weights are kept in the mentor cache, like the graders' sealed records) and loaded once
per process; every call of `starting_policy()` gets a fresh copy, in eval mode.

    from mentor.lab.rewards import TOKENIZER, EOS, make_prompts, letter_reward, completion_mask, starting_policy
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
from pathlib import Path

import torch

from mentor.lab import gpt as gpt_module
from mentor.lab.gpt import GPT, GPTConfig

SPECIALS = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = 0, 1, 2
TASK_LETTERS = "abcdefgh"  # the letters prompts name
MAX_NEW_TOKENS = 6  # the completion length the task is scored on


class CharTokenizer:
    """Characters of `chars` to ids after the special tokens: <pad> 0, <bos> 1, <eos> 2."""

    def __init__(self, chars: str = "abcdefghijklmnopqrstuvwxyz="):
        self.chars = chars
        self.stoi = {c: i + len(SPECIALS) for i, c in enumerate(chars)}
        self.itos = {i: c for c, i in self.stoi.items()}

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + len(self.chars)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of `text`, with <bos> in front and <eos> behind when asked; KeyError for an unknown character."""
        return [BOS] * bos + [self.stoi[c] for c in text] + [EOS] * eos

    def decode(self, ids) -> str:
        """The text of `ids` up to the first <eos>; <pad> and <bos> are left out."""
        out = []
        for i in (int(x) for x in ids):
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return "".join(out)


TOKENIZER = CharTokenizer()
POLICY_CONFIG = GPTConfig(vocab_size=TOKENIZER.vocab_size, block_size=16, d_model=32, n_layers=2, n_heads=2, dropout=0.1)


def make_prompts(n: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """n prompts `<bos>c=`, c drawn from TASK_LETTERS with a generator seeded `seed`: a (n, 3) long tensor."""
    g = torch.Generator().manual_seed(seed)
    letters = torch.tensor([TOKENIZER.stoi[c] for c in TASK_LETTERS])[torch.randint(len(TASK_LETTERS), (n,), generator=g)]
    equals = torch.full((n,), TOKENIZER.stoi["="])
    return torch.stack([torch.full((n,), BOS), letters, equals], dim=1).to(device)


def completion_mask(completions: torch.Tensor) -> torch.Tensor:
    """(N, L) bool: True for each completion's tokens up to and including its first <eos>, False after it
    (all True for a completion that never ended). Only <eos> ends a completion."""
    is_eos = (completions == EOS).long()
    return (is_eos.cumsum(dim=1) - is_eos) == 0  # no <eos> strictly before this position


def letter_reward(prompt_ids: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
    """(N,) float32 rewards in [0, 1] for completions (N, L) of the prompts (N, 3), row by row.

    0.25 if the completion contains <eos>, plus 0.75 times the share of the tokens before it that are
    the prompt's letter (0 for an empty completion). Neither input is changed."""
    target = prompt_ids[:, 1:2]  # (N, 1): the letter each prompt names
    is_eos = completions == EOS
    ended = is_eos.any(dim=1)
    before = is_eos.long().cumsum(dim=1) == 0  # the letters: positions before the first <eos>
    hits = ((completions == target) & before).sum(dim=1)
    share = hits / before.sum(dim=1).clamp(min=1)
    return (0.25 * ended + 0.75 * share).float()


# -- the starting policy --------------------------------------------------------------------------
SFT_STEPS, SFT_BATCH, SFT_LR, SFT_SEED = 200, 64, 1e-2, 0
RIGHT_LETTER = 0.4  # in the supervised data, each letter is the prompt's with this probability
UNENDED = 0.2  # and this share of completions runs to MAX_NEW_TOKENS without an <eos>
_policy: GPT | None = None


def sft_batch(batch: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Supervised sequences `<bos>c=` + completion + `<eos>`, padded: (idx, targets), each (batch, 3 + MAX_NEW_TOKENS).
    Only the completion's tokens (and its <eos>) are targets; the rest are -100."""
    T, L = 3 + MAX_NEW_TOKENS, MAX_NEW_TOKENS
    letters = torch.tensor([TOKENIZER.stoi[c] for c in TASK_LETTERS])
    prompts = make_prompts(batch, int(torch.randint(2**31 - 1, (1,), generator=g)))
    ended = torch.rand(batch, generator=g) >= UNENDED
    n = torch.where(ended, torch.randint(1, 5, (batch,), generator=g), L)  # letters per completion
    right = torch.rand(batch, L, generator=g) < RIGHT_LETTER
    drawn = letters[torch.randint(len(letters), (batch, L), generator=g)]
    pos = torch.arange(L)
    body = torch.where(right, prompts[:, 1:2], drawn)  # (batch, L)
    body = torch.where(pos < n[:, None], body, PAD)
    body = torch.where((pos == n[:, None]) & ended[:, None], EOS, body)
    seqs = torch.cat([prompts, body], dim=1)  # (batch, T)
    stop = 3 + n + ended.long()  # one past the last target token
    targets = torch.full((batch, T), -100)
    targets[:, :-1] = torch.where(torch.arange(1, T) < stop[:, None], seqs[:, 1:], -100)
    targets[:, :2] = -100  # the prompt is given, not learned
    return seqs, targets


def _train_starting_policy() -> GPT:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and its rounding is the same everywhere
    try:
        with torch.random.fork_rng(devices=[]):  # the global random state is left as the caller had it
            torch.manual_seed(SFT_SEED)
            model = GPT(POLICY_CONFIG)
            opt = torch.optim.AdamW(model.parameters(), lr=SFT_LR)
            g = torch.Generator().manual_seed(SFT_SEED)
            model.train()
            for _ in range(SFT_STEPS):
                idx, targets = sft_batch(SFT_BATCH, g)
                _, loss = model(idx, targets)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def _cache_file() -> Path:
    """Where the trained weights are kept between processes: the mentor cache, under a name that changes
    with this file, the model's file and torch's version (any of them changes the weights)."""
    from mentor.grading.seal import cache_root

    digest = hashlib.sha256(torch.__version__.encode())
    for source in (Path(__file__), Path(gpt_module.__file__)):
        digest.update(source.read_bytes())
    return cache_root() / "lab" / f"starting-policy-{digest.hexdigest()[:16]}.pt"


def _load_or_train() -> GPT:
    path = _cache_file()
    model = None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):
            model = GPT(POLICY_CONFIG)
        model.load_state_dict(state)
    except (OSError, RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError):
        model = _train_starting_policy()
        try:  # written whole, then renamed: a concurrent process reads the old file or the new one
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, path)
            for old in path.parent.glob("starting-policy-*.pt"):  # weights of an earlier version of the task
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only cache: train again next time
    return model.eval()


def starting_policy() -> GPT:
    """A fresh copy of the supervised starting policy (POLICY_CONFIG, dropout 0.1), in eval mode, on the CPU.

    Trained once per machine (a few seconds) and kept in the mentor cache; loaded once per process, then
    copied, so a caller may train its copy freely."""
    global _policy
    if _policy is None:
        _policy = _load_or_train()
    model = copy.deepcopy(_policy).eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return model
