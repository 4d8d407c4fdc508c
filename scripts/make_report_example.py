"""Write the example grain-size reports of docs/examples/ (synthetic specimen, 4 fields).

    python scripts/make_report_example.py          # HTML (committed)
    python scripts/make_report_example.py --pdf    # and the PDF beside it

The specimen is generated (napari_srmat.synth), so the numbers are reproducible; the
report is what the grain-size widget's *Report* tab and napari_srmat.report write.
"""

from __future__ import annotations

from pathlib import Path

from napari_srmat.metrics.standards import field_grid, measure_specimen
from napari_srmat.report import GrainSizeReport, SampleInfo, report_from_specimen, write_report
from napari_srmat.synth import generate_microstructure

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "examples"
PIXEL_SIZE_UM = 0.5


def example_report() -> GrainSizeReport:
    """The example report: 4 grid fields of one synthetic specimen (seed 11), intercepts.

    Returns
    -------
    napari_srmat.report.GrainSizeReport
        What ``main`` writes; ``tests/test_docs_numbers.py`` compares its numbers with the
        committed HTML.
    """
    ms = generate_microstructure((288, 288), mean_grain_size_px=16, seed=11)
    windows = field_grid(ms.boundaries.shape, 2, 2)
    spec = measure_specimen([ms.boundaries[w] for w in windows], method="intercept",
                            pattern="grid", pixel_size_um=PIXEL_SIZE_UM,
                            names=[f"field {k + 1}" for k in range(len(windows))])
    sample = SampleInfo(specimen_id="SYN-0011 (synthetic)", section_plane="longitudinal",
                        rolling_direction="horizontal", magnification="200x",
                        etchant="none (generated)", operator="scripts/make_report_example.py")
    return report_from_specimen(
        spec, sample=sample, image=ms.image, boundaries=ms.boundaries,
        provenance={"boundary map": "exact synthetic boundaries (napari_srmat.synth, seed 11)",
                    "true mean intercept (px)": round(ms.mean_intercept_px, 3)})


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf", action="store_true", help="write the PDF beside the HTML")
    pdf = ap.parse_args(argv).pdf  # --help used to rewrite the committed report
    rep = example_report()
    OUT.mkdir(parents=True, exist_ok=True)
    for suffix in (".html", ".pdf") if pdf else (".html",):
        path = write_report(rep, OUT / f"grain_size_report{suffix}", overwrite=True)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
