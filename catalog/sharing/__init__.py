"""Sharing (issue 13): identities, grants, requests, audit and the working-day deadlines of the sharing rules."""
