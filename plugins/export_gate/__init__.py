"""Export Gate."""
