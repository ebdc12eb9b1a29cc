MISCONCEPTION = "log(sigmoid(x)) rounds sigmoid to 0"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen.detach()
    rejected_logratio = pi_rejected - ref_rejected.detach()
    loss = -torch.log(torch.sigmoid(beta * (chosen_logratio - rejected_logratio))).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()
