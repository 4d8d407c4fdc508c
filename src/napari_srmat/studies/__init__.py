"""Studies and demonstrations built on the library (not library code).

* :mod:`napari_srmat.studies.demo` -- ``srmat demo``: synthetic micrograph -> SR ->
  boundaries -> Heyn, with a report (:func:`~napari_srmat.studies.demo.run_demo_job`).
* :mod:`napari_srmat.studies.sr_vs_original` -- ``srmat experiment``: does SR help
  boundary detection? (:func:`~napari_srmat.studies.sr_vs_original.run_sr_vs_original_job`).
* :mod:`napari_srmat.studies.three_arm` -- ``srmat experiment three-arm``: the grain size
  of labelled micrographs as they are, ×4 down, SR(LR) and SR(HR)
  (:func:`~napari_srmat.studies.three_arm.three_arm_job`).

The measurement scripts behind the documented numbers live in the repository's
``studies/`` and ``benchmarks/`` folders.
"""
