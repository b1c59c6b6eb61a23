"""The `kongchuo` console script (see CONTRACT.md).

Every contract command is a Django management command, so `kongchuo X` is
`django-admin X` with our settings: `kongchuo audit verify`, `kongchuo demo`,
`kongchuo migrate` all go through one entry point.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kongchuo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kongchuo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
