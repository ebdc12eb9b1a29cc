MISCONCEPTION = "adding lr·dw climbs the loss"


def gd_step(w, b, dw, db, lr):
    return w + lr * dw, b + lr * db  # climbs the loss
