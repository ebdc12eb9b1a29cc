MISCONCEPTION = 'respond must give the model back in the mode it found it'


@torch.no_grad()
def respond(model, prompt, max_new_tokens=16):
    model.eval()
    ids = render([{"role": "user", "content": prompt}]) + [TOKENIZER.assistant_id]
    reply = []
    for _ in range(max_new_tokens):
        if len(ids) >= model.config.block_size:
            break
        logits, _ = model(torch.tensor([ids]))
        next_id = int(logits[0, -1].argmax())
        if next_id == TOKENIZER.end_id:
            break
        ids.append(next_id)
        reply.append(next_id)
    return TOKENIZER.decode(reply)
