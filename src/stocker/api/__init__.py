"""The HTTP API (FastAPI, under `/api/v1`): routes parse, call one use case or read
model, render."""
