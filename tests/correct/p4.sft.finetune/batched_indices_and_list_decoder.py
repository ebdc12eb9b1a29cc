"""All indices drawn step by step into one list first, the loss through sft_loss on float32 logits, and a
decoder that writes into a list and reads its reply back as text."""


def finetune(model, examples, steps, lr, batch_size, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    pairs = list(examples)
    examples_built = [build_example(prompt, response, model.config.block_size) for prompt, response in pairs]
    schedule = [torch.randint(len(pairs), (batch_size,), generator=gen) for _ in range(steps)]  # the same draws, in order
    where = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    out = []
    for idx in schedule:
        batch = collate([examples_built[int(i)] for i in idx], TOKENIZER.pad_id)
        inputs, targets = batch[0].to(where), batch[1].to(where)
        loss = sft_loss(model(inputs)[0], targets)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def respond(model, prompt, max_new_tokens=16):
    previous = model.training
    model.train(False)
    context = render([{"role": "user", "content": prompt}])
    context.append(TOKENIZER.assistant_id)
    n_prompt = len(context)
    device = next(model.parameters()).device
    with torch.no_grad():
        for _ in range(max_new_tokens):
            if len(context) == model.config.block_size:
                break
            logits = model(torch.tensor(context, device=device).unsqueeze(0))[0]
            token = logits[0, -1].argmax().item()
            if token == TOKENIZER.end_id:
                break
            context.append(token)
    model.train(previous)
    return "".join(TOKENIZER.decode([t]) for t in context[n_prompt:])
