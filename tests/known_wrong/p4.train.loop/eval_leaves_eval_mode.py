MISCONCEPTION = "evaluate leaves the model in eval mode"


@torch.no_grad()
def evaluate(model, get_batch, iters):
    model.eval()
    losses = [model(*get_batch("val"))[1].item() for _ in range(iters)]
    return sum(losses) / iters
