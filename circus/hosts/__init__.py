"""Process hosts: where workers actually run (the kernel, or circusd itself)."""
