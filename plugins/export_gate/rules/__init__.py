"""The rules: the lists (national baseline and free trade zones' negative lists), the data handler, and the decision."""
