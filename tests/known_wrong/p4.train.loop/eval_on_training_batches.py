MISCONCEPTION = "evaluate drew training batches"


@torch.no_grad()
def evaluate(model, get_batch, iters):
    was_training = model.training
    model.eval()
    losses = [model(*get_batch("train"))[1].item() for _ in range(iters)]
    model.train(was_training)
    return sum(losses) / iters
