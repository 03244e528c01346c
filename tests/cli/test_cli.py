"""The `humancut` command: folders, stdin/stdout, errors, the quality report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from humancut.cli import main
from tests.support.images import SHARED_EVAL, decode, encode, landscape

HUMANCUT = [sys.executable, "-m", "humancut.cli"]


def test_folder_batch_mirrors_tree_and_survives_a_corrupt_file(tmp_path, astronaut,
                                                                 astronaut_bytes, capsys):
    src = tmp_path / "photos"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.jpg").write_bytes(astronaut_bytes)
    encode_small = encode(astronaut.resize((256, 200)), "PNG")
    (src / "sub" / "b.png").write_bytes(encode_small)
    (src / "sub" / "deeper" / "c.webp").write_bytes(encode(astronaut, "WEBP"))
    (src / "sub" / "broken.jpg").write_bytes(astronaut_bytes[:3000])
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"

    code = main(["cut", str(src), "-o", str(out), "--form", "mask"])

    assert code == 1
    err = capsys.readouterr().err
    assert "3 of 4 images cut" in err
    assert "broken.jpg" in err and "undecodable" in err
    assert decode((out / "a.png").read_bytes()).size == (512, 512)
    assert decode((out / "sub" / "b.png").read_bytes()).size == (256, 200)
    assert decode((out / "sub" / "deeper" / "c.png").read_bytes()).mode == "L"
    assert not (out / "sub" / "broken.png").exists()
    assert not list(out.rglob("*.part"))


def test_single_file_default_output_name(tmp_path, astronaut_bytes):
    photo = tmp_path / "me.jpg"
    photo.write_bytes(astronaut_bytes)
    assert main(["cut", str(photo), "-q"]) == 0
    out = decode((tmp_path / "me.cut.png").read_bytes())
    assert out.mode == "RGBA" and out.size == (512, 512)


def test_stdin_to_stdout(astronaut_bytes):
    done = subprocess.run([*HUMANCUT, "cut", "-", "--form", "whiteBK"], input=astronaut_bytes,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = decode(done.stdout)
    assert out.mode == "RGB" and out.size == (512, 512)
    assert tuple(np.asarray(out)[5, 5]) == (255, 255, 255)


def test_errors_exit_non_zero_with_a_message(tmp_path):
    assert subprocess.run([*HUMANCUT, "cut", str(tmp_path / "nope.jpg")],
                          capture_output=True).returncode == 2
    (tmp_path / "field.png").write_bytes(encode(landscape()))
    done = subprocess.run([*HUMANCUT, "cut", "-"], input=encode(landscape()),
                          capture_output=True, timeout=120)
    assert done.returncode == 1
    assert b"no_person" in done.stderr and done.stdout == b""


def test_eval_on_generated_pairs(tmp_path, remover, astronaut):
    """The report's numbers come from the metrics: a label equal to the model's own mask
    scores IoU 1; a blank label scores IoU 0."""
    images, alpha = tmp_path / "images", tmp_path / "alpha"
    images.mkdir()
    alpha.mkdir()
    astronaut.save(images / "self.png")
    astronaut.save(images / "blank.png")
    remover.remove(images / "self.png", "mask").save(alpha / "self.png")
    (alpha / "blank.png").write_bytes(encode(landscape((512, 512)).convert("L").point(
        lambda _: 0)))
    report = tmp_path / "r.json"
    assert main(["eval", str(images), str(alpha), "--json", str(report), "-q"]) == 0
    data = json.loads(report.read_text())
    assert data["images"] == 2
    assert data["per_image"]["self.png"]["iou"] == 1.0
    assert data["per_image"]["self.png"]["sad"] == 0.0
    assert data["per_image"]["self.png"]["false_partial"] == 0.0
    assert data["per_image"]["blank.png"]["iou"] == 0.0
    assert data["means"]["iou"] == pytest.approx(0.5)
    assert data["images_per_second"] > 0


@pytest.mark.skipif(not (SHARED_EVAL / "portrait-mattes").is_dir(),
                    reason="../shared/eval is not present")
def test_eval_on_shared_portraits_reaches_the_baseline(capsys):
    root = Path(SHARED_EVAL / "portrait-mattes")
    assert main(["eval", str(root / "images"), str(root / "alpha"), "-q"]) == 0
    out = capsys.readouterr().out
    iou = float(out.split("IoU")[1].split()[0])
    assert iou >= 0.975


def test_bad_backend_settings_stop_at_start_with_the_setting_named(tmp_path, capsys):
    assert main(["keys", "list", "--keys-url", "mysql://me:hunter2@db/keys"]) == 2
    err = capsys.readouterr().err
    assert "HUMANCUT_KEYS_URL" in err and "unknown scheme 'mysql'" in err and "hunter2" not in err
    assert main(["serve", "--data-dir", str(tmp_path), "--limits-url", "memcached://x"]) == 2
    assert "HUMANCUT_LIMITS_URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # argparse knows the choices, from Settings
        main(["serve", "--data-dir", str(tmp_path), "--runner", "carrier-pigeon"])
    assert stop.value.code == 2
    assert "--runner: invalid choice: 'carrier-pigeon'" in capsys.readouterr().err


def test_keys_cli_uses_the_keys_url(tmp_path, capsys):
    url = f"sqlite://{tmp_path}/elsewhere/keys.db"
    assert main(["keys", "create", "--keys-url", url, "--credits", "3"]) == 0
    secret = capsys.readouterr().out.strip()
    from humancut.store import SQLiteKeyStore

    key = SQLiteKeyStore(tmp_path / "elsewhere" / "keys.db").authenticate(secret)
    assert key is not None and key.credits == 3
