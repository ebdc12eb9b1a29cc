"""The capstone engine measured on this machine, in workspaces whose files are the course's references.

- params_cpu_8gb, params_gpu_16gb: the parameters of those configurations (curriculum/capstone.yaml),
  as the plan counts them;
- tiny_tokens_per_s: the median tokens per second of a whole `tiny` run (40 steps, CPU, the
  configuration's one thread), step timings only: no tokenizer, shards or start-up;
- ddp_vs_single_max_abs_diff: the largest difference between the parameters after 4 steps of
  `torchrun --nproc_per_node=2` (gloo, CPU, 4 sequences per process) and of one process with all 8;
- where CUDA is present, a short `gpu-16gb` run (bfloat16 autocast, its batch of 12 × 1024) on 200 KB
  of the course corpus: gpu_peak_vram_gb (torch.cuda.max_memory_allocated), gpu_tokens_per_s and
  gpu_mfu, the model FLOPs utilisation: (6·N + 12·L·T·C) FLOPs per token times tokens per second over
  the card's dense bfloat16 peak (PaLM's count: the matmuls forward and backward, attention included).

Usage: python benchmarks/bench_capstone.py [--json] [--gpu-steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mentor.capstone import plan_capstone, train_capstone  # noqa: E402
from mentor.capstone.components import workspace_with_references  # noqa: E402
from mentor.curriculum import load_course  # noqa: E402
from mentor.paths import content_root  # noqa: E402

DDP_STEPS = 4
# dense bfloat16 tensor-core peaks, FLOP/s, from the vendors' data sheets (no sparsity)
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "4090": 165e12, "A10G": 70e12, "L4": 121e12}


def _small_text(folder: Path, nbytes: int = 200_000) -> Path:
    from mentor.corpus import default_corpus

    path = folder / "text.txt"
    path.write_text(default_corpus(nbytes), encoding="utf-8")
    return path


def params(course, folder: Path) -> dict:
    text = _small_text(folder, 20_000)  # the count needs no text; a small one keeps the plan quick
    return {f"params_{name.replace('-', '_')}": plan_capstone(None, course, name, text).params for name in ("cpu-8gb", "gpu-16gb")}


def tiny_speed(course, folder: Path) -> dict:
    ws = workspace_with_references(folder / "tiny", course)
    result = train_capstone(ws, course, "tiny")
    return {"tiny_tokens_per_s": round(result.tokens_per_s, 1), "tiny_final_val_loss": round(result.val_loss, 4)}


def ddp_vs_single(course, folder: Path) -> dict:
    import torch

    runs = {}
    for name in ("ddp", "single"):
        runs[name] = workspace_with_references(folder / name, course).root
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={port}", "-m", "mentor", "capstone", "train", "--profile", "tiny", "--steps", str(DDP_STEPS)]  # fmt: skip
    proc = subprocess.run(command, cwd=runs["ddp"], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"torchrun failed:\n{proc.stdout}\n{proc.stderr}")
    subprocess.run([sys.executable, "-m", "mentor", "capstone", "train", "--profile", "tiny", "--steps", str(DDP_STEPS)],
                   cwd=runs["single"], env=env, capture_output=True, text=True, timeout=600, check=True)  # fmt: skip
    a, b = (torch.load(ws / "capstone" / "tiny" / "checkpoint.pt", weights_only=True)["model"] for ws in runs.values())
    return {"ddp_vs_single_max_abs_diff": max((a[k] - b[k]).abs().max().item() for k in a), "ddp_steps": DDP_STEPS}


def gpu_run(course, folder: Path, steps: int) -> dict:
    import torch

    if not torch.cuda.is_available():
        return {}
    ws = workspace_with_references(folder / "gpu", course)
    text = _small_text(folder)
    torch.cuda.reset_peak_memory_stats()
    result = train_capstone(ws, course, "gpu-16gb", file=text, steps=steps)
    plan = json.loads((result.run_dir / "plan.json").read_text())
    m = plan["model"]
    flops_per_token = 6 * plan["params"] + 12 * m["n_layers"] * m["block_size"] * m["d_model"]
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    return {
        "gpu": name,
        "gpu_steps": steps,
        "gpu_peak_vram_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "gpu_planned_memory_gb": round(plan["memory"]["total"] / 2**30, 2),
        "gpu_tokens_per_s": round(result.tokens_per_s, 1),
        "gpu_mfu": round(flops_per_token * result.tokens_per_s / peak, 4) if peak else None,
        "gpu_final_train_loss": round(result.train_loss, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    parser.add_argument("--gpu-steps", type=int, default=8, help="steps of the gpu-16gb run where CUDA is present")
    args = parser.parse_args()
    import torch

    course = load_course(content_root())
    result = {"torch": torch.__version__, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-capstone-") as tmp:
        folder = Path(tmp)
        result |= params(course, folder)
        result |= tiny_speed(course, folder)
        result |= ddp_vs_single(course, folder)
        result |= gpu_run(course, folder, args.gpu_steps)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        print(f"{key:30} {value}")


if __name__ == "__main__":
    main()
