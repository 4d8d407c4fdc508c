"""Image I/O: lazy readers (PNG/JPEG/TIFF/OME-TIFF/Zarr/OME-Zarr) and OME-Zarr writers.

Everything that may be large is a Dask array; outputs stream into OME-Zarr through
:class:`OmeZarrStreamWriter` (resumable, atomic).
"""

from ._data import IMAGE_SUFFIXES, list_pairs, read_grey_or_rgb_float
from ._float import (
    all_finite,
    as_rgb,
    check_pixel_values,
    float_bit_depth_divisor,
    grey_or_rgb,
    looks_binary,
    to_float01,
    to_uint8,
)
from ._mask import (
    MAX_MASK_GREY_FRACTION,
    MaskError,
    as_bool_mask,
    check_threshold,
    micrograph_as_mask_note,
    mid_grey_fraction,
    read_array,
    read_mask,
)
from ._pixel import (
    SQUARE_PIXEL_TOLERANCE,
    PixelSizeError,
    check_pixel_size,
    given_pixel_size_message,
    non_square_message,
    pixel_size_from_line,
    pixels_square,
)
from ._read import (
    DEFAULT_CHUNK,
    MICROSCOPE_SUFFIXES,
    ImageReadError,
    Micrograph,
    check_channels_last,
    image_data,
    image_info,
    pixel_size_note,
    read_image,
    read_window,
    read_with_bioio,
    verify_image_job,
)
from ._write import (
    OmeZarrStreamWriter,
    StreamMismatchError,
    check_replaceable_store,
    default_n_levels,
    write_ome_zarr,
)

__all__ = [
    "DEFAULT_CHUNK",
    "IMAGE_SUFFIXES",
    "MICROSCOPE_SUFFIXES",
    "ImageReadError",
    "MaskError",
    "Micrograph",
    "OmeZarrStreamWriter",
    "PixelSizeError",
    "SQUARE_PIXEL_TOLERANCE",
    "StreamMismatchError",
    "as_bool_mask",
    "check_threshold",
    "check_channels_last",
    "check_pixel_values",
    "float_bit_depth_divisor",
    "looks_binary",
    "check_pixel_size",
    "check_replaceable_store",
    "pixel_size_from_line",
    "pixel_size_note",
    "pixels_square",
    "non_square_message",
    "given_pixel_size_message",
    "default_n_levels",
    "all_finite",
    "as_rgb",
    "grey_or_rgb",
    "image_data",
    "image_info",
    "list_pairs",
    "read_array",
    "read_grey_or_rgb_float",
    "read_image",
    "read_mask",
    "MAX_MASK_GREY_FRACTION",
    "micrograph_as_mask_note",
    "mid_grey_fraction",
    "read_window",
    "read_with_bioio",
    "to_float01",
    "to_uint8",
    "verify_image_job",
    "write_ome_zarr",
]
