MISCONCEPTION = "the loss is summed over the batch"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen.detach()
    rejected_logratio = pi_rejected - ref_rejected.detach()
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).sum()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()
