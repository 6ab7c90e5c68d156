"""Operations: Prometheus metrics, the /healthz + /metrics HTTP server, structured and redacted logging."""
