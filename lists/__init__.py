"""The shipped lists (YAML data, see README.md here). A package only so that the wheel carries the files."""
