#!/usr/bin/python3
"""PyJWT as an independent JWS implementation for the token tests.

  pyjwt_interop.py mint ALG PRIVATE_KEY_FILE HOST UUID   prints a token
  pyjwt_interop.py decode ALG KEY_FILE TOKEN             prints the subject

Exit status 77 when PyJWT or cryptography is missing, so the test can skip.
"""
import sys
import time

try:
    import jwt  # PyJWT
    import cryptography  # noqa: F401  (PyJWT needs it for ES256, EdDSA, RS256)
except ImportError:
    sys.exit(77)


def read_key(path):
    with open(path, "rb") as f:
        data = f.read()
    # HS256 secrets are trimmed the same way the gateway trims them.
    return data if data.startswith(b"-----BEGIN") else data.strip()


def main(argv):
    mode, alg, key_file = argv[1], argv[2], argv[3]
    key = read_key(key_file)
    if mode == "mint":
        host, uuid = argv[4], argv[5]
        now = int(time.time())
        claims = {"sub": f"{host}-{uuid}", "iat": now, "exp": now + 60, "console": "vnc"}
        print(jwt.encode(claims, key, algorithm=alg))
    elif mode == "decode":
        claims = jwt.decode(argv[4], key, algorithms=[alg])
        print(claims["sub"])
    else:
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
