MISCONCEPTION = 'the batches are not the ones the task draws'


def finetune(model, examples, steps, lr, batch_size, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    built = [build_example(prompt, response, model.config.block_size) for prompt, response in examples]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    order = torch.randperm(len(built), generator=gen)
    for step in range(steps):
        start = (step * batch_size) % len(built)  # epochs: every example once before any twice
        idx = order[start : start + batch_size]
        input_ids, labels, _ = collate([built[i] for i in idx.tolist()], TOKENIZER.pad_id)
        logits, _ = model(input_ids)
        loss = sft_loss(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
