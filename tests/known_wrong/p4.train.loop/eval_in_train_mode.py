MISCONCEPTION = "eval left in train mode"


@torch.no_grad()
def evaluate(model, get_batch, iters):
    losses = [model(*get_batch("val"))[1].item() for _ in range(iters)]  # no eval(): "no_grad is enough"
    return sum(losses) / iters
