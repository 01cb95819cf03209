"""Outbox events leaving the process: EventBridge-shaped bodies and webhook delivery."""
