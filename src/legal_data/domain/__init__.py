"""Pure domain rules of Japanese legal practice: identifiers, case numbers, money.

No database access.
"""
