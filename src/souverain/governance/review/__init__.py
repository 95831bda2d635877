"""Human review (AI Act art. 14): outputs of use cases that require it reach nobody until a reviewer
has approved, edited or rejected them."""
