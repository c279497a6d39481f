"""`python -m keras_simple_diffusion ...`, the same as the `simple-diffusion` command."""

import sys

from keras_simple_diffusion.cli import main

sys.exit(main())
