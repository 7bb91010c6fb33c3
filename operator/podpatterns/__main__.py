import sys

from podpatterns.cli.main import main

sys.exit(main())
