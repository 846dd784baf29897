"""Labelled sample exports and their ground truth, for the demo, the tests and the benchmarks."""
