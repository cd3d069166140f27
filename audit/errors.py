from kernel.errors import DomainError


class AuditError(DomainError):
    """A request about the audit trail that cannot be answered as asked."""
