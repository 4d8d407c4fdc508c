"""An input that a job's input rule has passed, handed to the job so that the job does not
check it again.

The input rules (:func:`napari_srmat.sr.apply.check_sr_input`,
:func:`napari_srmat.edges.infer.check_boundary_input`) read a sample of the pixel values;
a command checks its file with the rule before loading a model (so that an error names
the file early), and the job checked it again: the sample was read twice. The command
passes the job :func:`checked` ``(rule, image)`` instead: a :class:`Checked` is made only
by running the rule, so a job recognises input that really passed its rule, and there is
no flag with which a caller could skip the check of input that never did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Checked", "checked", "passed"]

_MADE_BY_CHECKED = object()


class Checked:
    """An input (:attr:`image`) and what the input rule :attr:`rule` returned for it
    (:attr:`value`). Made by :func:`checked` only.

    Attributes
    ----------
    image : Any
        The input as given to the rule.
    rule : callable
        The rule it passed.
    value : Any
        What the rule returned.
    """

    __slots__ = ("image", "rule", "value")

    def __init__(self, image: Any, rule: Callable[..., Any], value: Any, key: object) -> None:
        if key is not _MADE_BY_CHECKED:  # not a way round the rule
            raise TypeError("Checked is made by napari_srmat.io._checked.checked(rule, image),"
                            " which runs the rule")
        self.image = image
        self.rule = rule
        self.value = value

    def __repr__(self) -> str:
        return f"Checked({self.image!r}, rule={getattr(self.rule, '__name__', self.rule)})"


def checked(rule: Callable[..., Any], image: Any, *args: Any, **kwargs: Any) -> Checked:
    """Run ``rule(image, *args, **kwargs)`` and mark ``image`` as having passed it.

    Parameters
    ----------
    rule : callable
        A job's input rule (raises on bad input).
    image : Any
        The input.
    *args, **kwargs
        The rule's other arguments.

    Returns
    -------
    Checked
        For the job whose rule is ``rule``: it is not checked again.

    Raises
    ------
    Exception
        What ``rule`` raises.
    """
    return Checked(image, rule, rule(image, *args, **kwargs), _MADE_BY_CHECKED)


def passed(image: Any, rule: Callable[..., Any]) -> Checked | None:
    """``image`` when :func:`checked` made it with ``rule``, else None (check it).

    Parameters
    ----------
    image : Any
        A job's input.
    rule : callable
        The job's input rule.

    Returns
    -------
    Checked or None
    """
    return image if isinstance(image, Checked) and image.rule is rule else None
