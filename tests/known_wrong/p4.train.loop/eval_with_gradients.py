MISCONCEPTION = "eval with gradients on"


def evaluate(model, get_batch, iters):
    was_training = model.training
    model.eval()
    losses = [model(*get_batch("val"))[1].item() for _ in range(iters)]  # .item() "detaches" the value
    model.train(was_training)
    return sum(losses) / iters
