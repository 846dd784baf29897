"""The review app in the Airflow api-server (app, auth, filters) and the templates and static assets it shares
with the per-export report. Importing this package loads nothing heavy: the report uses only ``templating``."""
