"""Which training preset fits the machine: the one place pipelines ask whether a GPU is present.

A preset left unset in config is chosen here, and the reason is returned so the run log and the model manifest
say why (e.g. "no GPU found: the `small` preset; set `preset` to override"). Nothing here imports TensorFlow:
loading the code location must stay cheap, so the check looks for the NVIDIA device files and `nvidia-smi`, which
is what TensorFlow itself would need to find a GPU.
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass

FORCE_ENV = "STOREFRONT_ACCELERATOR"  # "gpu" or "cpu": overrides detection (CI, containers without devices)


def gpu_available() -> bool:
    forced = os.environ.get(FORCE_ENV, "").strip().lower()
    if forced in {"gpu", "cpu"}:
        return forced == "gpu"
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in {"", "-1"}:
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*")) and shutil.which("nvidia-smi") is not None


@dataclass(frozen=True)
class PresetChoice:
    preset: str
    reason: str


def choose_preset(configured: str | None, cpu_preset: str, gpu_preset: str) -> PresetChoice:
    """The configured preset when one is set; otherwise `gpu_preset` on a GPU machine and `cpu_preset` elsewhere."""
    if configured:
        return PresetChoice(configured, f"preset {configured!r} set in config")
    if gpu_available():
        return PresetChoice(gpu_preset, f"GPU found: preset {gpu_preset!r} (set `preset` to override)")
    return PresetChoice(cpu_preset, f"no GPU found: preset {cpu_preset!r} (set `preset` to override)")
