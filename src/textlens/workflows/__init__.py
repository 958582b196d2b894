"""Larger jobs built on the Library: watching folders, evaluation against ground truth."""
