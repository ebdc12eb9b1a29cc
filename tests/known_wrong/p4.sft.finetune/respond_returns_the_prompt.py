MISCONCEPTION = 'respond returns the reply alone'


@torch.no_grad()
def respond(model, prompt, max_new_tokens=16):
    was_training = model.training
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
    model.train(was_training)
    return prompt + TOKENIZER.decode(reply)  # the whole exchange, as a transcript
