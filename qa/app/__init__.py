"""The chat: the answering service, uploads, rendering and the Gradio page."""
