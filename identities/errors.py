"""Errors of identity management, phrased for the admin who caused them."""


class IdentityError(ValueError):
    """A request to create or change an identity that cannot be carried out."""


class IdentityNameTaken(IdentityError):
    def __init__(self, name: str) -> None:
        super().__init__(f'an identity named "{name}" already exists')


class InvalidIdentity(IdentityError):
    pass
