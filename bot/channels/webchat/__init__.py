"""The customer web chat: the `/chat` page and widget (browser <-> Rasa socket.io) and its small API."""
