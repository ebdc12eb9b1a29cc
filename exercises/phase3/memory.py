"""Phase 3 · What training a GPT costs in memory, counted before it is built.

Step p3.memory.training. The GPT is the Phase 2 model (learned positions, n_layers pre-norm blocks
of causal attention and a 4x GELU MLP, a final LayerNorm, an LM head without bias) with two
switches in its config: `tied` (the LM head's weight is the token embedding's) and `bias` (every
Linear and LayerNorm has a bias; with bias=False only the LayerNorm gains remain).

  param_count(config)                       the number of distinct parameters, N, in closed form
  training_memory(config, batch, seq, dtype="float32", optimizer="adamw")
      -> {"weights", "grads", "optimizer", "master", "activations", "total"}, each in BYTES (int)
  largest_batch(config, seq, memory_bytes, dtype="float32", optimizer="adamw")
      -> the largest batch (>= 0) whose total fits in memory_bytes

dtype is "float32", or "bfloat16" / "float16" for mixed precision (weights, gradients and
activations in 16 bits, a float32 master copy of the weights, float32 optimizer states).
optimizer is "adamw" (two float32 states per parameter) or "sgd" (plain SGD: none).
Anything else raises ValueError. The concept of `mentor next` lists the activations to count.

Pointer: every part but the activations is (bytes per element) x N; the activations are a sum over
the tensors autograd keeps for backward, each a product of B, T, d_model, n_heads and vocab_size.
"""

from dataclasses import dataclass


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    tied: bool = True  # lm_head.weight is tok_emb.weight: one (V, C) matrix
    bias: bool = True  # every Linear and LayerNorm has a bias (the LM head never has one)


def param_count(config: GPTConfig) -> int:
    """sum(p.numel() for p in GPT(config).parameters()), from a formula: no model is built.

    Pointer: one block is two LayerNorms, qkv (C -> 3C), proj (C -> C), fc (C -> 4C) and the MLP's
    proj (4C -> C); count the biases only when config.bias is True, the head only when it is not tied.
    """
    raise NotImplementedError


def training_memory(
    config: GPTConfig, batch: int, seq: int, dtype: str = "float32", optimizer: str = "adamw"
) -> dict:
    """Bytes of one training step at batch size `batch` and sequence length `seq` (int values).

    weights      N x bytes of dtype
    grads        N x bytes of dtype
    optimizer    N x 4 x (number of float32 states the optimizer keeps)
    master       N x 4 in mixed precision (bfloat16, float16); 0 in float32
    activations  bytes of dtype x the elements autograd keeps for backward: in every block, the
                 inputs and outputs of both LayerNorms, q, k and v, the attention weights (one
                 (T, T) matrix per head), the attention's output, the MLP's hidden layer before
                 and after GELU; times n_layers; plus the logits (B, T, V)
    total        the sum of the five
    """
    raise NotImplementedError


def largest_batch(
    config: GPTConfig, seq: int, memory_bytes: int, dtype: str = "float32", optimizer: str = "adamw"
) -> int:
    """The largest B >= 0 with training_memory(config, B, seq, dtype, optimizer)["total"] <= memory_bytes.

    Pointer: only the activations grow with the batch, and they grow linearly.
    """
    raise NotImplementedError
