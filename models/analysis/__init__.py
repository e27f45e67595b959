"""Analyses of a data set with a model: where its labels look wrong (suspect labels)."""
