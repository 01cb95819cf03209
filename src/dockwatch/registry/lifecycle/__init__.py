"""ECR lifecycle policies: the policy language (`policy`), its pure evaluation over a
repository's images (`evaluate`), and the periodic pass that expires images through the
registry (`expire`)."""
