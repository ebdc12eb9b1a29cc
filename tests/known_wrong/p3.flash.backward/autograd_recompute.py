MISCONCEPTION = "grows faster than T"


class FlashAttentionFunction(torch.autograd.Function):
    """Saves only q, k, v, but its backward lets autograd differentiate a naive attention run again."""

    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v)
        ctx.causal = causal
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v = ctx.saved_tensors
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_() for t in (q, k, v)]
            out = naive_attention(*leaves, causal=ctx.causal)  # (B, H, T, S) weights, saved by autograd
            dq, dk, dv = torch.autograd.grad(out, leaves, dout)
        return dq, dk, dv, None, None, None
