MISCONCEPTION = "the rewards are not detached"


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_reward = beta * (pi_chosen - ref_chosen.detach())
    rejected_reward = beta * (pi_rejected - ref_rejected.detach())
    loss = -F.logsigmoid(chosen_reward - rejected_reward).mean()
    return loss, chosen_reward, rejected_reward
