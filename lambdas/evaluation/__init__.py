"""Evaluation of the base model against the fine-tuned one: generation, BERTScore and LLM-as-a-judge.

Modules here import heavy libraries (torch, bert-score, langchain) only inside functions, and ``results`` imports
nothing but pydantic, so the zip-packaged report and notify functions can read evaluation results.
"""
