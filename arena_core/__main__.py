import sys

from arena_core.cli.main import main

sys.exit(main())
