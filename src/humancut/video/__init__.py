"""Video: people cut out of clips with a real alpha channel (docs/video.md). Stages stream
frames (decode -> temporal matting -> encode); a clip is never held whole."""

from .encode import FORMS, SUFFIXES
from .matting import TemporalMatter
from .pipeline import AlphaSource, VideoSummary, remove_video, resolve_form, video_session
from .probe import ClipInfo, VideoLimits, is_video_file, looks_like_video, probe

__all__ = ["FORMS", "SUFFIXES", "AlphaSource", "ClipInfo", "TemporalMatter", "VideoLimits",
           "VideoSummary", "is_video_file", "looks_like_video", "probe", "remove_video",
           "resolve_form", "video_session"]
