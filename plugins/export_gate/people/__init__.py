"""Who the people in an export are: keyed digests of their identifiers, and how partial results combine."""
