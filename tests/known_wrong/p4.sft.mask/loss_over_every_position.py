MISCONCEPTION = "the loss divides by every position"


def sft_loss(logits, labels):
    per_token = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="none")
    return per_token.mean()  # ignored positions count as zeros in the mean
