"""The learner's machine: what it has, and which of the course's target profiles applies."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Optional

CUDA_PROFILE_MIN_GB = 12  # a card this size runs the ~100M capstone with a sensible batch


@dataclass
class Machine:
    cpu: str
    cores: int
    ram_gb: float
    torch: str
    torch_threads: Optional[int]
    cuda_device: Optional[str]
    cuda_memory_gb: Optional[float]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect() -> Machine:
    import psutil

    torch_version, threads, device, memory = "not installed", None, None, None
    try:
        import torch

        torch_version = torch.__version__ + (f" (CUDA {torch.version.cuda})" if torch.version.cuda else " (CPU build)")
        threads = torch.get_num_threads()
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            device, memory = props.name, round(props.total_memory / 2**30, 1)
    except ImportError:
        pass
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        ram_gb=round(psutil.virtual_memory().total / 2**30, 1),
        torch=torch_version,
        torch_threads=threads,
        cuda_device=device,
        cuda_memory_gb=memory,
    )


def choose_profile(profiles: dict, machine: Machine) -> tuple[str, str]:
    """The profile name and a sentence saying why."""
    gpu = next((n for n, p in profiles.items() if p.device == "cuda"), None)
    cpu = next((n for n, p in profiles.items() if p.device == "cpu"), None)
    if machine.cuda_device and machine.cuda_memory_gb and machine.cuda_memory_gb >= CUDA_PROFILE_MIN_GB and gpu:
        return gpu, f"CUDA device {machine.cuda_device} with {machine.cuda_memory_gb} GB (≥ {CUDA_PROFILE_MIN_GB} GB)"
    if machine.cuda_device and cpu:
        return cpu, f"{machine.cuda_device} has {machine.cuda_memory_gb} GB, under {CUDA_PROFILE_MIN_GB} GB: graded as CPU"
    if cpu:
        return cpu, f"no CUDA device; {machine.cores} cores and {machine.ram_gb} GB RAM"
    return "default", "the course declares no profiles"


@dataclass
class GpuInfo:
    name: str
    memory_gb: float


def quick_gpu() -> Optional[GpuInfo]:
    """The first NVIDIA GPU as nvidia-smi reports it, without importing torch (too slow for `check`)."""
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip().splitlines()  # fmt: skip
        name, mib = (x.strip() for x in out[0].rsplit(",", 1))
        return GpuInfo(name, round(float(mib) / 1024, 1))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


@dataclass
class Target:
    """The profile a check is graded under, and the limits that follow from it on this machine."""

    profile: str
    why: str
    threads: int = 0
    hide_cuda: bool = False
    cuda_memory_fraction: float = 0.0


def resolve_target(profiles: dict, requested: Optional[str], setting: Optional[str]) -> Target:
    """`--target` first, then the workspace's `target` setting, else the profile this machine fits.

    Raises KeyError naming an unknown profile.
    """
    gpu = quick_gpu()
    if requested or setting:
        name = requested or setting
        if name not in profiles:
            raise KeyError(name)
        why = "--target" if requested else "the workspace setting `target` in mentor.toml"
    else:
        machine = Machine("", os.cpu_count() or 1, 0.0, "", None, gpu.name if gpu else None, gpu.memory_gb if gpu else None)
        name, why = choose_profile(profiles, machine)
        if name not in profiles:
            return Target(name, why)
    p = profiles[name]
    fraction = 0.0
    if p.device == "cuda" and gpu and gpu.memory_gb > p.memory_gb:
        fraction = round(p.memory_gb / gpu.memory_gb, 3)  # a bigger card graded as the smaller one
    return Target(name, why, threads=p.threads, hide_cuda=p.device == "cpu", cuda_memory_fraction=fraction)
