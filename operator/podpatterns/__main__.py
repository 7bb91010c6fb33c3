import sys

from podpatterns.cli import main

sys.exit(main())
