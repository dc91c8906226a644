"""The SCIS operator: runs one capture Pod per LiveMonitor and reflects its progress into status."""

GROUP = "scis.io"
VERSION = "v1alpha1"
PLURAL = "livemonitors"
KIND = "LiveMonitor"
LIVEMONITORS = (GROUP, VERSION, PLURAL)

__all__ = ["GROUP", "KIND", "LIVEMONITORS", "PLURAL", "VERSION"]
