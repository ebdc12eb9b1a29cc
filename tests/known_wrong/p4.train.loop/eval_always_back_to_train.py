MISCONCEPTION = "evaluate switched a model that came in eval mode to train mode"


@torch.no_grad()
def evaluate(model, get_batch, iters):
    model.eval()
    losses = [model(*get_batch("val"))[1].item() for _ in range(iters)]
    model.train()  # "back to training"
    return sum(losses) / iters
