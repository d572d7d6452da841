"""The chat page: ``python app.py`` (same as ``qa serve``); see ``python app.py --help``.

The page itself is :mod:`qa.app.web`, inside the package, so ``qa serve``
works from an installed wheel too.
"""

import sys

from qa.app.web import main

if __name__ == "__main__":
    sys.exit(main())
