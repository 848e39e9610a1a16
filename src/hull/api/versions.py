"""The API versions hull speaks: a client may name any from MIN_API_VERSION to
API_VERSION in its paths (/v1.44/…); unversioned paths get the newest."""

API_VERSION = "1.44"       # the newest (docker-py 7.1's default)
MIN_API_VERSION = "1.24"   # the oldest Docker still accepts
