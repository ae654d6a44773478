"""The analytics operations: what each one takes, and how it is computed (engine/)."""
