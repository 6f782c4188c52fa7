"""Operations: health checks and metrics for monitoring."""
