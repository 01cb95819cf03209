"""Inspector's multi-account model: a management account names a delegated administrator, which
associates member accounts, sees their findings and coverage and manages their scanning."""
