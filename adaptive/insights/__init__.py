"""Organisation insights as plain analytics (see the submodules)."""
