"""Queue-proxy policy: breaker, Forwarded synthesis, readiness probe spec."""
