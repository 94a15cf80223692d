"""Airflow integration: thin operators, callbacks, alerting and task metrics.

Importing this package does not import Airflow; the operator module does.
"""
