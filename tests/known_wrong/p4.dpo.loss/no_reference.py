MISCONCEPTION = "the reference's log-probs are not subtracted"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    loss = -F.logsigmoid(beta * (pi_chosen - pi_rejected)).mean()  # the policy alone
    chosen_reward = beta * (pi_chosen - ref_chosen).detach()
    rejected_reward = beta * (pi_rejected - ref_rejected).detach()
    return loss, chosen_reward, rejected_reward
