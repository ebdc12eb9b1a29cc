"""The `mentor` command's entry point: `mentor check` starts its grader before anything else loads."""

import sys


def main() -> None:
    argv = sys.argv[1:]
    prestarted = None
    if argv[:1] == ["check"] and not {"--help", "-h"} & set(argv):
        from mentor.grading.spawn import spawn_worker

        prestarted = spawn_worker()
    from mentor import cli

    cli.main(prestarted)
