# The network as a list of (weight, bias) layers: init, forward and backward each loop over the layers
# (backward in reverse), with ReLU between layers and not after the last; the cross-entropy's gradient
# starts from a one-hot matrix taken from np.eye.

import math

_LAYERS = (("W1", "b1"), ("W2", "b2"))


def init_params(D, H, C, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for (w_key, b_key), (fan_in, fan_out) in zip(_LAYERS, ((D, H), (H, C))):  # W1 drawn before W2
        params[w_key] = rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)
        params[b_key] = np.zeros(fan_out)
    return params


def mlp_forward(params, x):
    inputs, pre = [], []  # what each layer saw, and its pre-activation
    a = x
    for i, (w_key, b_key) in enumerate(_LAYERS):
        inputs.append(a)
        z = a @ params[w_key] + params[b_key]
        pre.append(z)
        a = np.maximum(z, 0.0) if i < len(_LAYERS) - 1 else z  # raw logits out of the last layer
    return a, (inputs, pre)


def loss_and_grads(params, x, labels):
    logits, (inputs, pre) = mlp_forward(params, x)
    n, c = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    sum_exp = np.exp(shifted).sum(axis=1, keepdims=True)  # >= 1
    logp = shifted - np.log(sum_exp)
    onehot = np.eye(c)[labels]  # (N, C)
    loss = -np.sum(onehot * logp) / n

    grads = {}
    dout = (np.exp(shifted) / sum_exp - onehot) / n  # d loss / d logits
    for i in reversed(range(len(_LAYERS))):
        w_key, b_key = _LAYERS[i]
        grads[w_key] = inputs[i].T @ dout
        grads[b_key] = dout.sum(axis=0)
        if i > 0:
            dout = (dout @ params[w_key].T) * (pre[i - 1] > 0)  # back through the ReLU before layer i
    return float(loss), grads
