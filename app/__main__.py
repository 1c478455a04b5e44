"""`python -m app` runs the `ora` command."""

from app.cli import main

raise SystemExit(main())
