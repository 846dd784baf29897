"""The scan engines: one seam, read -> plan -> detect -> people over every cell. local runs on this machine's cores."""
