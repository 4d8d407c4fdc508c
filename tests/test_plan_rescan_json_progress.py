"""``srmat plan-rescan --json`` shows its progress on stderr (s51 X2 #5)."""

from __future__ import annotations

import json

from napari_srmat.cli import main


def test_cli_json_shows_progress_on_stderr(tmp_path, capsys):
    """Failed before: --json printed no progress for minutes (quiet=args.json). As
    `srmat sr run --json`: progress on stderr, stdout is the JSON object alone."""
    from PIL import Image

    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((64, 64), mean_grain_size_px=12, seed=0, blur=0.0).image
    path = tmp_path / "lr.png"
    Image.fromarray(img).save(path)
    assert main(["plan-rescan", str(path), "--model", "bicubic", "--roi-size-px", "16",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["model"] == "bicubic"
    assert "[info] rescan plan: bicubic" in captured.err
