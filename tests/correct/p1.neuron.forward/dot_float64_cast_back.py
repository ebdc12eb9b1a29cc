# np.dot on the inputs taken to float64, the result cast back to the dtype x @ w + b would have had;
# the activation applied only when one is given.


def neuron_forward(x, w, b, activation=None):
    x = np.asarray(x)
    w = np.asarray(w)
    out_dtype = np.result_type(x, w, b)  # what x @ w + b would give: float for integer inputs too
    z = np.dot(x.astype(np.float64), w.astype(np.float64)) + np.float64(b)  # one pre-activation per row
    z = z.astype(out_dtype, copy=False)
    if activation is not None:
        z = activation(z)
    return z
