"""Reports: findings exports (`reports.findings`) and SBOM documents (`reports.sbom`).

Both are pure renderings of values the domain hands them (Inspector-shaped findings, an image
inventory); `reports.common` holds what they share (tool, image names, time, entry order).
"""
