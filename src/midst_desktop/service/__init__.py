"""The optional local endpoint: /health, /metrics and /openapi.json on loopback."""
