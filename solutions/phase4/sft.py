"""Phase 4 · Supervised fine-tuning: a chat template, a loss on the response only (reference).

A conversation becomes one sequence of ids, each message `<|role|> content <|end|>`, the markers
special ids that no text can produce. Training asks the model to predict only what the assistant
says: labels hold -100 on the prompt and the template, so the loss, a mean over the response tokens
of the whole batch, never pushes the model to write prompts. Then the fine-tuning loop, and a greedy
reply that stops at the end marker.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mentor.lab.tasks import TOKENIZER

IGNORE = -100  # the label of a position that carries no loss: F.cross_entropy's ignore_index
ROLE_IDS = {"user": TOKENIZER.user_id, "assistant": TOKENIZER.assistant_id}

# -- p4.sft.mask --------------------------------------------------------------------------------


def render(messages: list[dict]) -> list[int]:
    ids = []
    for message in messages:
        role = message["role"]
        if role not in ROLE_IDS:
            raise ValueError(f"unknown role {role!r}: a message is from 'user' or 'assistant'")
        # the marker is an id, never text: a prompt that types "<|end|>" stays seven characters
        ids += [ROLE_IDS[role], *TOKENIZER.encode(message["content"]), TOKENIZER.end_id]
    return ids


def build_example(prompt: str, response: str, max_len: int) -> tuple[list[int], list[int]]:
    response_ids = TOKENIZER.encode(response) + [TOKENIZER.end_id]  # the end marker is a target: the model learns to stop
    room = max_len + 1 - len(response_ids) - 3  # the sequence is one longer than input_ids; 3 template ids
    if room < 0:
        raise ValueError(f"the response needs {len(response_ids) + 2} of max_len={max_len} positions: it cannot be kept whole")
    prompt_ids = TOKENIZER.encode(prompt)
    prompt_ids = prompt_ids[len(prompt_ids) - room :] if len(prompt_ids) > room else prompt_ids  # the prompt loses its start
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id, TOKENIZER.assistant_id]
    sequence = head + response_ids
    input_ids = sequence[:-1]  # position t predicts sequence[t + 1]
    labels = [IGNORE] * (len(head) - 1) + response_ids  # the first target is the token after <|assistant|>
    return input_ids, labels


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    T = max(len(ids) for ids, _ in examples)
    B = len(examples)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.bool)
    for b, (ids, labs) in enumerate(examples):
        n = len(ids)  # right padding: the real tokens keep positions 0..n-1
        input_ids[b, :n] = torch.tensor(ids, dtype=torch.long)
        labels[b, :n] = torch.tensor(labs, dtype=torch.long)
        mask[b, :n] = True
    return input_ids, labels, mask  # (B, T) each


def sft_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # one mean over every supervised token of the batch: a long response weighs as many tokens as it has
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)


# -- p4.sft.finetune ----------------------------------------------------------------------------


def finetune(model, examples, steps: int, lr: float, batch_size: int, seed: int) -> list[float]:
    torch.manual_seed(seed)  # dropout's masks
    gen = torch.Generator().manual_seed(seed)  # the batches
    device = next(model.parameters()).device
    built = [build_example(prompt, response, model.config.block_size) for prompt, response in examples]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)  # once: its moments carry from step to step
    model.train()  # dropout on
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(built), (batch_size,), generator=gen)
        input_ids, labels, _ = collate([built[i] for i in idx.tolist()], TOKENIZER.pad_id)
        logits, _ = model(input_ids.to(device))  # (B, T, V)
        loss = sft_loss(logits, labels.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def respond(model, prompt: str, max_new_tokens: int = 16) -> str:
    was_training = model.training
    model.eval()  # no dropout: the same prompt always gets the same reply
    device = next(model.parameters()).device
    ids = render([{"role": "user", "content": prompt}]) + [TOKENIZER.assistant_id]
    reply = []
    for _ in range(max_new_tokens):
        if len(ids) >= model.config.block_size:
            break
        logits, _ = model(torch.tensor([ids], device=device))  # (1, T, V)
        next_id = int(logits[0, -1].argmax())
        if next_id == TOKENIZER.end_id:  # the model says it is done
            break
        ids.append(next_id)
        reply.append(next_id)
    model.train(was_training)
    return TOKENIZER.decode(reply)
