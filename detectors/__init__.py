"""The shipped detectors: Presidio YAML recognizers and the validators they need."""
