"""Signs and validates with the official twilio SDK (PyPI `twilio`), for
twilio_signature_sdk.rs. Reads JSON cases on stdin, writes JSON results on stdout.

sign:     [{token, url, params: [[name, value], ...], body: str|null, algorithm}] -> [signature]
validate: [{token, url, params, body, algorithm, signature}] -> [bool]

A JSON-body case (body not null) is signed the way Twilio signs one: the URL (which carries
bodySHA256) with no parameters; validate() gets the body string, as the SDK expects.
"""
import json
import sys

import twilio
from twilio.request_validator import RequestValidator


class MultiParams(dict):
    """Form parameters with repeated names, read by the SDK through getall() as Flask's
    MultiDict would be."""

    def __init__(self, pairs):
        super().__init__()
        for name, value in pairs:
            self.setdefault(name, []).append(value)

    def getall(self, name):
        return self[name]


def main():
    mode = sys.argv[1]
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        v = RequestValidator(c["token"])
        algorithm = c.get("algorithm")
        if mode == "sign":
            params = {} if c["body"] is not None else MultiParams(c["params"])
            out.append(v.compute_signature(c["url"], params, algorithm))
        elif mode == "validate":
            params = c["body"] if c["body"] is not None else MultiParams(c["params"])
            out.append(v.validate(c["url"], params, c["signature"], algorithm))
        else:
            raise SystemExit("unknown mode " + mode)
    json.dump({"sdk_version": twilio.__version__, "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
