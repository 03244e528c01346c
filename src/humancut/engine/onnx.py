"""onnxruntime sessions: CPU by default, CUDA when present and asked for (device=auto|cuda)."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def providers_for(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError("device=cuda but onnxruntime has no CUDAExecutionProvider "
                               "(install onnxruntime-gpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "auto":
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def create_session(path: Path, *, device: str = "auto", threads: int = 0,
                   arena: bool = False) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Settings.cpu_arena: the arena would hold the largest run's buffers for good.
    options.enable_cpu_mem_arena = arena
    options.intra_op_num_threads = threads  # 0 lets onnxruntime use one per core
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads sleep instead of spinning: a server runs the threads of several
    # requests on few cores, and spinning threads burn the CPU the working ones need
    # (measured: 20-35 % less CPU per image on 2 cores, no latency cost).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=providers_for(device))
