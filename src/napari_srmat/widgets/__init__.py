"""The napari layer of napari-srmat: thin dock widgets over the core library.

Public for scripts: :mod:`napari_srmat.widgets.layers` (super-resolve, predict
boundaries, measure Heyn on layers and add the result layers with their scales and
colormaps) and :mod:`napari_srmat.widgets.export`. The dock widgets are the
``*_widget`` modules (listed in ``napari.yaml``); ``_qt``, ``_worker`` and ``_layout``
are their Qt helpers.
"""
