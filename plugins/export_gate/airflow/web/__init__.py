"""The review app in the Airflow api-server (routes in ``app``; one module per job: auth, filters, query,
download, dashboard, chain, paths, headers, i18n) and the templates and static assets it shares with the
per-export report. Importing this package loads nothing heavy: the report uses only ``templating``."""
