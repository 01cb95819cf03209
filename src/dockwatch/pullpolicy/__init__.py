"""Pull policies: refuse pulls of images with findings, or without a current scan.

`policy` holds the policy and allowance values and their validation, `verdict` judges one image
against a policy (pure), `gate` reads what a verdict needs for a pull and records refusals,
`service` changes policies and allowances.
"""
