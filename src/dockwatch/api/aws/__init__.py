"""The AWS-compatible adapters: ECR (awsJson1.1 at `POST /`) and Inspector2 (restJson1 at its
own paths), over the same services as `/api/v1`.

`context.py` is what every operation receives, `errors.py` what it raises; `ecr/` and
`inspector/` hold one handler per operation, named as in botocore's service models.
"""
