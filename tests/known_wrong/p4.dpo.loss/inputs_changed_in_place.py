MISCONCEPTION = "dpo_loss changed its inputs"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen.sub_(ref_chosen.detach())  # "no extra tensor": the caller's pi_chosen overwritten
    rejected_logratio = pi_rejected.sub_(ref_rejected.detach())
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()
