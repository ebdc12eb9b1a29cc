MISCONCEPTION = "the reference's log-probs get a gradient"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen  # a graph on the reference's side flows back through here
    rejected_logratio = pi_rejected - ref_rejected
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()
