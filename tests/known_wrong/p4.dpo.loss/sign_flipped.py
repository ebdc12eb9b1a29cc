MISCONCEPTION = "the sign of the margin is flipped"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen.detach()
    rejected_logratio = pi_rejected - ref_rejected.detach()
    loss = -F.logsigmoid(beta * (rejected_logratio - chosen_logratio)).mean()  # the margin reversed
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()
