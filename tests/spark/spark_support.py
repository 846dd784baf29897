"""What the Spark tests share."""

#: The master of the tests' local Spark: two executor cores, like the machines the suite runs on.
MASTER = "local[2]"
