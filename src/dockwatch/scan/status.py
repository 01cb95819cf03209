"""ECR's `imageScanStatus` derived from the Inspector-style scan state (one source of truth).

Inspector reports `scanStatus` (statusCode ACTIVE/INACTIVE + reason) in ListCoverage; ECR's
DescribeImageScanFindings reports one `status` word. Both views come from the same row.
"""

from __future__ import annotations

from dockwatch.storage.scan_repo import ScanState

#: (scan type, statusCode, reason) -> ECR imageScanStatus.status; reasons not listed map by code
_ECR: dict[tuple[str, str, str], str] = {
    ("ENHANCED", "ACTIVE", "SUCCESSFUL"): "ACTIVE",
    ("ENHANCED", "ACTIVE", "PENDING_INITIAL_SCAN"): "PENDING",
    ("ENHANCED", "ACTIVE", "SCAN_IN_PROGRESS"): "IN_PROGRESS",
    ("ENHANCED", "INACTIVE", "INTERNAL_ERROR"): "FAILED",
    ("ENHANCED", "INACTIVE", "UNSUPPORTED_MEDIA_TYPE"): "UNSUPPORTED_IMAGE",
    ("ENHANCED", "INACTIVE", "NO_RESOURCES_FOUND"): "FINDINGS_UNAVAILABLE",
    ("ENHANCED", "INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"): "SCAN_ELIGIBILITY_EXPIRED",
    ("ENHANCED", "INACTIVE", "UNSUPPORTED_OS"): "UNSUPPORTED_IMAGE",
    ("ENHANCED", "INACTIVE", "IMAGE_SIZE_EXCEEDED"): "IMAGE_SIZE_EXCEEDED",
    ("ENHANCED", "ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH"): "COMPLETE",
    ("ENHANCED", "INACTIVE", "SCAN_FREQUENCY_MANUAL"): "FINDINGS_UNAVAILABLE",
    ("BASIC", "COMPLETE", "SUCCESSFUL"): "COMPLETE",
    ("BASIC", "COMPLETE", "UNSUPPORTED_OS"): "UNSUPPORTED_IMAGE",
    ("BASIC", "IN_PROGRESS", "SCAN_IN_PROGRESS"): "IN_PROGRESS",
}


def ecr_status(state: ScanState | None) -> str:
    """ECR's imageScanStatus.status for a scan state (PENDING when never scanned)."""
    if state is None:
        return "PENDING"
    found = _ECR.get((state.scan_type, state.status_code, state.reason))
    if found is not None:
        return found
    return "ACTIVE" if state.status_code == "ACTIVE" else "FAILED"
