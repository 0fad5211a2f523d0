"""Concept dictionaries (data files): canonical concepts and one mapping file per source."""
