"""Adapters to outside systems the answer path talks to: chat-model providers and their clients.

Construction and authentication live here, apart from the logic that uses what they build
(``retrieval.answer.generative`` only calls the model it is given)."""
