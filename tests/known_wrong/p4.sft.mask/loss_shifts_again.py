MISCONCEPTION = "sft_loss shifts the logits again"


def sft_loss(logits, labels):
    # the Hugging Face habit: the logits at t predict the label at t + 1
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE)
