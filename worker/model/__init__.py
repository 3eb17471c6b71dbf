"""The learned effort model (issue 14): from the answers an installation already has, the
probability that a silent customer would have answered low, with reasons that stay explainable."""
