"""`python -m bot.cli`: the same as the `baocao` command."""

from bot.cli.commands import main

raise SystemExit(main())
