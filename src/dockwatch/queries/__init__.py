"""Inspector's query surface over findings: FilterCriteria, ListFindings (sort, keyset pages) and
ListFindingAggregations, from wire JSON to typed values and back to Inspector's response shapes.
The store answers through `storage.finding_query_repo.FindingQueryRepo`."""
