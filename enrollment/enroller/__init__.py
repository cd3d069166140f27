"""The device-side enroller: turns an enrollment JWT into an identity file.

It runs on devices, so it imports only the standard library, `cryptography` and
`PyJWT`; nothing from Django or the rest of this project. Run it as
`python -m enrollment.enroller --jwt FILE --out FILE`.
"""
