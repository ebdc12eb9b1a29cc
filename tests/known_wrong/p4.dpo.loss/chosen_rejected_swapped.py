MISCONCEPTION = "chosen and rejected are swapped"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    # read the arguments as (rejected, chosen): every use of the two sides trades places
    pi_rejected, pi_chosen = pi_chosen, pi_rejected
    ref_rejected, ref_chosen = ref_chosen, ref_rejected
    chosen_logratio = pi_chosen - ref_chosen.detach()
    rejected_logratio = pi_rejected - ref_rejected.detach()
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()
