"""Surveys: created at a solve, sent once, answered with one click."""
