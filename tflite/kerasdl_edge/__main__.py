"""`python -m kerasdl_edge`: the kerasdl-edge CLI."""

import sys

from kerasdl_edge.cli import main

sys.exit(main())
