"""Answers: extractive or generated, cited, verified, or refused."""
