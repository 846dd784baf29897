"""Airflow's front: the operator, the plugin (review page, report link), connections and the OpenLineage facet."""
