MISCONCEPTION = 'gradients accumulate across steps'


def finetune(model, examples, steps, lr, batch_size, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    built = [build_example(prompt, response, model.config.block_size) for prompt, response in examples]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(built), (batch_size,), generator=gen)
        input_ids, labels, _ = collate([built[i] for i in idx.tolist()], TOKENIZER.pad_id)
        logits, _ = model(input_ids)
        loss = sft_loss(logits, labels)
        loss.backward()  # .grad keeps what earlier steps added
        opt.step()
        losses.append(loss.item())
    return losses
