"""The `textlens` command line: parses options, calls the Library, formats the output."""
