"""What a scan found, for people: the JSON/table report, the per-export HTML report and its charts."""
