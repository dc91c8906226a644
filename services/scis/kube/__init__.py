"""Talking to Kubernetes from SCIS processes: the capture's progress reports and the LiveMonitor client."""
