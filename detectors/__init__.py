"""The shipped detector data: Presidio YAML recognizers, column roles and term lists. A package only so that the wheel
carries the files; the code that reads and validates them is export_gate.detection."""
