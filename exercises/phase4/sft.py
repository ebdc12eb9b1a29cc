"""Phase 4 · Supervised fine-tuning: a chat template, a loss on the response only.

Two steps fill this file:
  p4.sft.mask      render, build_example, collate, sft_loss: the template and the labels
  p4.sft.finetune  finetune, respond: the training loop and a greedy reply

The template: each message is `<|role|> content <|end|>`, the markers special ids of TOKENIZER
(TOKENIZER.user_id, .assistant_id, .end_id, .pad_id) that encoding text never produces. One training
example is the sequence

    <|user|> prompt <|end|> <|assistant|> response <|end|>

cut into input_ids (every id but the last) and labels of the same length: labels[t] is the id that
follows input_ids[t] (already shifted: mentor.lab.GPT compares logits[t] with labels[t]), and -100,
which carries no loss, wherever that next id is part of the prompt or the template, up to and
including <|assistant|>. The response's ids and its <|end|> are the targets.

Pointer: for "max: ab" -> "b", input_ids has 11 ids and labels is nine -100s, then the id of "b",
then TOKENIZER.end_id.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mentor.lab.tasks import TOKENIZER

IGNORE = -100  # the label of a position that carries no loss: F.cross_entropy's ignore_index

# -- p4.sft.mask --------------------------------------------------------------------------------


def render(messages: list[dict]) -> list[int]:
    """The ids of a conversation: for each message, its role's marker id, TOKENIZER.encode(content), end_id.

    messages: a sequence of {"role": "user" | "assistant", "content": str}. Another role raises
    ValueError. The content is always encoded as text, so "<|end|>" typed by a user stays seven
    characters; a character the tokenizer does not know raises its ValueError. Returns a list of ints.
    """
    raise NotImplementedError


def build_example(prompt: str, response: str, max_len: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one exchange, two lists of ints of the same length, at most max_len.

    input_ids: `<|user|> prompt <|end|> <|assistant|> response` (the sequence without its final <|end|>);
    labels[t]: the id after input_ids[t] where that id is a response id or the final <|end|>, else -100.
    Too long? The response is never cut: the prompt's text loses characters from its START until the
    example fits; if the template and the response alone need more than max_len, raise ValueError.
    """
    raise NotImplementedError


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad (input_ids, labels) pairs to the longest: (input_ids, labels, attention_mask), each (B, T).

    input_ids: torch.long, the real ids at positions 0..n-1 and pad_id after them; labels: torch.long,
    -100 at every padding position; attention_mask: torch.bool, True on real tokens. T is the longest
    example's length. The examples passed in are left unchanged.
    """
    raise NotImplementedError


def sft_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy over every supervised token of the batch: one mean over all positions whose
    label is not -100 (per token, as F.cross_entropy with ignore_index gives, not a mean of per-sequence
    means). logits: (B, T, V), labels: (B, T). Returns a 0-dim tensor in the logits' dtype.
    """
    raise NotImplementedError


# -- p4.sft.finetune ----------------------------------------------------------------------------


def finetune(model, examples, steps: int, lr: float, batch_size: int, seed: int) -> list[float]:
    """Train `model` on (prompt, response) pairs for `steps` steps; the loss of every step, as floats.

    Each pair becomes build_example(prompt, response, model.config.block_size). Seeded exactly so:
    torch.manual_seed(seed) first (dropout), and a torch.Generator().manual_seed(seed) that draws each
    step's batch, `torch.randint(len(examples), (batch_size,), generator=gen)`, collated with
    TOKENIZER.pad_id and moved to the model's device. The model in train mode; ONE
    torch.optim.AdamW(model.parameters(), lr=lr) for the whole run; per step: forward, sft_loss,
    zero the gradients, backward, step. Trains on the examples given and nothing else.
    """
    raise NotImplementedError


def respond(model, prompt: str, max_new_tokens: int = 16) -> str:
    """The model's greedy reply to `prompt`: the text of the ids it writes after <|assistant|>.

    The prompt is render([{"role": "user", "content": prompt}]) + [TOKENIZER.assistant_id]; then, up to
    max_new_tokens times, the argmax of the last position's logits is appended, until it is
    TOKENIZER.end_id (not part of the reply) or the context holds block_size ids. Runs in eval mode
    under torch.no_grad(), and gives the model back in the mode it found it, its weights unchanged.
    """
    raise NotImplementedError
