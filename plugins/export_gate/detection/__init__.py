"""The detector core: per-column plans, the recognizers and their validators, vectorised detection of every cell.

Every scan engine (local, Spark) runs this code unchanged."""
