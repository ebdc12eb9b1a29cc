MISCONCEPTION = "summed over the supervised tokens, not averaged"


def sft_loss(logits, labels):
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum")
