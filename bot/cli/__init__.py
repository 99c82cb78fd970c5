"""The `baocao` command line: its commands (`commands`), the console chat (`console`), the
operator's inbound tools (`inbound`) and argparse in Vietnamese (`text`); the files it writes go
through `bot.output_files`, shared with the document builders."""
