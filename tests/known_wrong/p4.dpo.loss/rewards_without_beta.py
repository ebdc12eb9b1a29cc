MISCONCEPTION = "the rewards lack beta"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = (pi_chosen - ref_chosen.detach())
    rejected_logratio = (pi_rejected - ref_rejected.detach())
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, chosen_logratio.detach(), rejected_logratio.detach()  # log-ratios, not rewards
