MISCONCEPTION = "must make its mask on q.device"


def causal_attention(q, k, v):
    T = q.size(-2)
    return scaled_dot_product_attention(q, k, v, mask=causal_mask(T))  # the mask stays on the CPU
