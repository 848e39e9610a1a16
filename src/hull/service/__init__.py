"""The engine service: one resident process per root that runs every hull command for its
clients (the thin `hull` client, hull/client.py), so a command pays no interpreter start
and no imports. See server.py for the process model and protocol.py for the wire format."""
