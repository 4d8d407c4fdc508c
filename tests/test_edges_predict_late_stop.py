"""A stop that comes after the last tile of an in-memory boundary prediction."""

from __future__ import annotations

import numpy as np

from napari_srmat.edges.infer import predict_boundaries_job
from napari_srmat.jobs import Progress, Stopped, StopToken, run_job
from napari_srmat.synth import generate_microstructure


def test_a_stop_after_the_last_tile_keeps_the_maps():
    """Was None, with no Stopped told (the maps computed were dropped), while a stored
    prediction stopped as late finishes its folder (explorer s50 F6, the SR store's
    late Cancel): now the maps are returned, as without the stop."""
    from napari_srmat.edges import load_boundary_model

    model = load_boundary_model(device="cpu")  # the shipped weights
    image = generate_microstructure((96, 96), mean_grain_size_px=12, seed=0).image
    token, events = StopToken(), []

    def stop_at_the_end(event):
        events.append(event)
        if isinstance(event, Progress) and event.stage == "tiles" and event.done == event.total:
            token.request_stop()

    kw = dict(tile=64, overlap=16, scale_check=False)
    late = run_job(
        predict_boundaries_job(image, model, stop=token, **kw), quiet=True, on_event=stop_at_the_end
    )
    assert token.stop_requested and not any(isinstance(e, Stopped) for e in events)
    whole = run_job(predict_boundaries_job(image, model, **kw), quiet=True)
    assert late is not None and all(np.array_equal(a, b) for a, b in zip(late, whole))
