"""Old home of the widget helpers, kept so existing imports keep working.

New code imports from :mod:`napari_srmat.widgets.layers` (scripting API),
:mod:`napari_srmat.widgets.export` and :mod:`napari_srmat.widgets._qt`.
"""

from ._qt import LayerCombo
from .export import export_csv, export_json
from .layers import *  # noqa: F403
from .layers import __all__ as _layers_all

__all__ = [*_layers_all, "LayerCombo", "export_csv", "export_json"]
