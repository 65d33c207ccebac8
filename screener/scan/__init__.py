"""The scan core, a package whose modules are its stages (see :mod:`.pipeline`)."""

from .pipeline import ScanResult, scan_batch
from .trace import SUPPRESSION_CODES, Suppressed

__all__ = ["SUPPRESSION_CODES", "ScanResult", "Suppressed", "scan_batch"]
