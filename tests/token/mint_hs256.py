#!/usr/bin/python3
"""Mint a console-gw HS256 token with the Python standard library only."""
import argparse
import base64
import hashlib
import hmac
import json
import time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_console_token(secret: bytes, host_id: str, uuid: str, console=None,
                       ttl=60, audience=None) -> str:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": f"{host_id}-{uuid}", "iat": now, "exp": now + ttl}
    if console:
        claims["console"] = console  # "vnc" or "spice"
    if audience:
        claims["aud"] = audience
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, claims))
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def read_secret(path: str) -> bytes:
    # The gateway trims surrounding whitespace from the key file too.
    with open(path, "rb") as f:
        return f.read().strip()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--uuid", required=True)
    parser.add_argument("--console", choices=["vnc", "spice"])
    parser.add_argument("--ttl", type=int, default=60)
    parser.add_argument("--audience")
    args = parser.parse_args()
    print(mint_console_token(read_secret(args.secret_file), args.host, args.uuid,
                             args.console, args.ttl, args.audience))
