"""The `mentor` command's entry point.

`mentor check` starts its grader before anything else loads. Every command leaves without tearing
the interpreter down: once its output is flushed and its progress store closed, there is nothing
left to do, and unloading typer, rich and sqlite-utils module by module would cost tens of
milliseconds of a command meant to feel instant.
"""

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    prestarted = None
    if argv[:1] == ["check"] and not {"--help", "-h"} & set(argv):
        from mentor.grading.spawn import spawn_worker

        prestarted = spawn_worker()
    from mentor import cli

    try:
        cli.main(prestarted)
    except SystemExit as stop:
        leave(stop.code)
    leave(0)


def leave(code) -> None:
    """Exit with `code` as `sys.exit` would, skipping the interpreter's teardown."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    progress = sys.modules.get("mentor.progress")
    if progress is not None:
        progress.close_all()  # committed already; closing checkpoints the log into the file
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`mentor list | head`): nothing more to say
            pass
    os._exit(code)
