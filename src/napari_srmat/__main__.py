"""The console's entry of ``srmat`` (``[project.scripts]``) and ``python -m napari_srmat``.

Importing the command line (numpy, the subcommands) takes a while: a Ctrl-C then is told
as every interrupt of a command is, one line and exit 130, not a traceback. Until
2026-12-07 the console script imported ``napari_srmat.cli`` outside any handler: a
Ctrl-C in the first ~0.3 s of any ``srmat`` command printed a KeyboardInterrupt traceback
and the process died of the signal (exit -2).
"""

import sys

#: The exit code of an interrupt (Ctrl-C), as ``napari_srmat.cli.EXIT_INTERRUPTED``
#: (not imported from there: a Ctrl-C may come while it is imported).
_EXIT_INTERRUPTED = 130


def console() -> int:
    """Run ``srmat`` with ``sys.argv``; return its exit code.

    Returns
    -------
    int
        The command's exit code; 130 for a Ctrl-C while the command line is imported
        (``srmat: interrupted``, or its traceback with ``--debug``).
    """
    try:
        from napari_srmat.cli import main
    except KeyboardInterrupt:
        if "--debug" in sys.argv[1:]:
            raise
        print("srmat: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    return main()


if __name__ == "__main__":
    sys.exit(console())
