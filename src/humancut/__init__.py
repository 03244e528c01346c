"""humancut: human background removal on the CPU, as a library, a CLI and an HTTP API."""

from .errors import HumancutError, ModelFileError
from .imageops import FORMS
from .remover import Remover, remove
from .settings import Settings
from .video import VideoSummary, remove_video

__version__ = "0.1.0"

__all__ = ["FORMS", "HumancutError", "ModelFileError", "Remover", "Settings", "VideoSummary",
           "remove", "remove_video", "__version__"]
