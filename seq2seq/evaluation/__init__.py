"""Evaluation of translations: sacrebleu scores, reports (JSON and Markdown) and their figures."""
