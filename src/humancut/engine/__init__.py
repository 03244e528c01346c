"""Models, views and alpha refinement. `create_model(settings)` builds the configured model;
`views` combines what it sees; `refine` cleans the alpha up."""

from __future__ import annotations

from ..settings import Settings
from .assets import ModelFile, fetch, locate
from .base import Matte, Model
from .rvm import RobustVideoMatting

# name -> model class; each class carries its pinned `file` (a ModelFile).
MODELS: dict[str, type[Model]] = {
    RobustVideoMatting.name: RobustVideoMatting,
}


def model_class(name: str) -> type[Model]:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None


def create_model(settings: Settings) -> Model:
    cls = model_class(settings.model)
    path = locate(cls.file, settings.model_dir, settings.model_path)
    options = {name: getattr(settings, name) for name in cls.options}
    return cls(path, device=settings.device, threads=settings.threads, **options)


__all__ = ["MODELS", "Matte", "Model", "ModelFile", "create_model", "fetch", "locate",
           "model_class"]
