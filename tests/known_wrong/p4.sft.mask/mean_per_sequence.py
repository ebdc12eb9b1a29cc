MISCONCEPTION = "the loss is a mean per sequence"


def sft_loss(logits, labels):
    per_token = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")  # (B, T)
    counts = (labels != IGNORE).sum(dim=1)
    return (per_token.sum(dim=1) / counts).mean()  # each sequence's mean, then the mean of those
