"""The `baocao` command line: its commands (`commands`), the console chat (`console`), the
operator's inbound tools (`inbound`), files it writes (`output_files`) and argparse in Vietnamese
(`text`)."""
