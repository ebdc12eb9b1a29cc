"""FlashAttention-2's backward order: key tiles outside, so each tile's dk and dv are summed locally and
written once; query blocks inside, adding into a shared dq."""


class FlashAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal=False, block_q=64, block_k=64):
        out, lse = flash_attention_forward(q, k, v, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.settings = (causal, block_q, block_k)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        causal, block_q, block_k = ctx.settings
        acc = lse.dtype
        T, S, D = q.shape[2], k.shape[2], q.shape[3]
        qf, kf, vf, dof = (t.to(acc) for t in (q, k, v, dout))
        delta = torch.einsum("bhtd,bhtd->bht", dof, out.to(acc))
        dq = torch.zeros_like(qf)
        dks, dvs = [], []
        for j0 in range(0, S, block_k):
            kj, vj = kf[:, :, j0:j0 + block_k], vf[:, :, j0:j0 + block_k]
            dk_j, dv_j = torch.zeros_like(kj), torch.zeros_like(vj)
            first = (j0 // block_q) * block_q if causal else 0  # query blocks before the tile see none of it
            for i0 in range(first, T, block_q):
                qi, doi = qf[:, :, i0:i0 + block_q], dof[:, :, i0:i0 + block_q]
                s = torch.einsum("bhid,bhjd->bhij", qi, kj) / math.sqrt(D)
                if causal:
                    qpos = torch.arange(i0, i0 + s.shape[2])[:, None]
                    kpos = torch.arange(j0, j0 + s.shape[3])[None, :]
                    s = torch.where(kpos > qpos, float("-inf"), s)
                p = (s - lse[:, :, i0:i0 + block_q, None]).exp()
                dv_j += torch.einsum("bhij,bhid->bhjd", p, doi)
                ds = p * (torch.einsum("bhid,bhjd->bhij", doi, vj) - delta[:, :, i0:i0 + block_q, None])
                dk_j += torch.einsum("bhij,bhid->bhjd", ds, qi) / math.sqrt(D)
                dq[:, :, i0:i0 + block_q] += torch.einsum("bhij,bhjd->bhid", ds, kj) / math.sqrt(D)
            dks.append(dk_j)
            dvs.append(dv_j)
        dk, dv = torch.cat(dks, dim=2), torch.cat(dvs, dim=2)
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None
