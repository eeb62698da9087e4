"""Delivery: the outbox and the rate limiter that paces every platform's sends."""
