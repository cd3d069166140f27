"""The kernel: what every app uses and no app owns. It imports no app (docs/architecture.md)."""
