"""Accounts, datasets and tasks: the platform around the analytics."""
