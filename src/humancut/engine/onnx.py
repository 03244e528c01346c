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


def create_session(path: Path, *, device: str = "auto", threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # 0 lets onnxruntime use one per core
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=providers_for(device))
