"""``writeback serve``: placeholder until the service lands."""
