"""The video quality report (`humancut eval --video`): labelled clips in the DAVIS layout,
composite clips with known soft alpha, and the systems compared on them."""

from __future__ import annotations

from .clips import LabelledClip, labelled_clips
from .composites import Plan, build
from .report import VideoReport, evaluate_clips, table, targets
from .systems import SYSTEMS, system

__all__ = ["SYSTEMS", "LabelledClip", "Plan", "VideoReport", "build", "evaluate_clips",
           "labelled_clips", "system", "table", "targets"]
