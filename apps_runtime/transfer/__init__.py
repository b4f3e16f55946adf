"""DSL over the API: export, import (with pending confirmation and ``yaml-url``), dependency check.

``services`` holds the writes (each audited), ``views`` the routes of client.md §4.15.
"""
