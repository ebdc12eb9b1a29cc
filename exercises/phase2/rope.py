"""Phase 2 · Embeddings: rotary position embeddings (RoPE).

RoPE (Su et al., 2021; used by LLaMA and most recent models) adds nothing to the embeddings.
Instead it rotates the queries and keys of every attention head by an angle proportional to their
position, so that the score q·k between positions m and n depends only on m - n. Implement
`apply_rope`; attention will call it on q and on k (never on v).
"""

import torch


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate the queries (or keys) x by their positions.

    x:         (B, H, T, Dh) float tensor (float32 or bfloat16), Dh even.
    positions: (T,) integer tensor, the position m of each of the T rows, 0-based: the first token
               of a sequence is position 0 (during generation they may start later, e.g. 100..107).
    Returns:   (B, H, T, Dh), same dtype as x. x itself is left unchanged.

    Pairing convention (the RoFormer paper's): dims (2i, 2i+1) form pair i, for i = 0 .. Dh/2 - 1.
    At position m, pair i turns counter-clockwise by the angle m·θ_i, with θ_i = base^(-2i/Dh):
        out[2i]   = x[2i]·cos(m·θ_i) - x[2i+1]·sin(m·θ_i)
        out[2i+1] = x[2i]·sin(m·θ_i) + x[2i+1]·cos(m·θ_i)
    Every head and every batch row at position m gets the same rotation. Compute the angles in
    float32 even when x is bfloat16.

    Pointer: x[..., 0::2] and x[..., 1::2] are the two members of every pair, (B, H, T, Dh/2) each;
    a (T, Dh/2) table of cosines broadcasts against them.
    """
    raise NotImplementedError
