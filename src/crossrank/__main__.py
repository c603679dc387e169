"""``python -m crossrank``: the ``crossrank`` command (:mod:`crossrank.cli.main`)."""

import sys

from crossrank.cli.main import main

sys.exit(main())
