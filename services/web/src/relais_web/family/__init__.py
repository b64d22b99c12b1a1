"""The family's pages (issue 14): no account, a letter's link and code open a short
session limited to one guardian's child; every text in the family's language."""
